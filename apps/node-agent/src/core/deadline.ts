/** Raised when an operation outlived the agent's request timeout. */
export class RequestTimeout extends Error {
  override readonly name = 'RequestTimeout';
  constructor(readonly ms: number, what: string) {
    super(`${what}: no answer from the event store within ${ms} ms`);
  }
}

/**
 * Rejects with RequestTimeout once `ms` passed. The operation itself goes on (an append cannot
 * be called back); callers answer "retry later", never success, so a late success is harmless.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RequestTimeout(ms, what)), ms);
  });
  // The losing promise must not become an unhandled rejection.
  work.catch(() => undefined);
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
