import type { Admission } from '#cluster-store';

/** Raised when an operation outlived the agent's request timeout. */
export class RequestTimeout extends Error {
  override readonly name = 'RequestTimeout';
  constructor(readonly ms: number, what: string) {
    super(`${what}: no answer from the event store within ${ms} ms`);
  }
}

/**
 * One request's deadline, handed to every command the request submits (issue 10 item 6: a
 * request answered "retry later" is never decided afterwards). If it passes before any command
 * of the request was offered to the store, the commands still queued in the group committer are
 * withdrawn and nothing more is submitted: "retry later" is then the truth. Once one command was
 * offered, the request has (or may have) taken effect, so it runs to its end and is answered its
 * real outcome.
 */
export class RequestDeadline {
  private readonly controller = new AbortController();
  private offered = false;

  constructor(readonly ms: number, readonly what: string) {}

  /** Submits one command under this deadline: `submit` gets the committer's admission. */
  track<T>(submit: (admission: Admission) => Promise<T>): Promise<T> {
    if (this.controller.signal.aborted) return Promise.reject(this.controller.signal.reason);
    return submit({
      signal: this.controller.signal,
      onStart: () => {
        this.offered = true;
      },
    });
  }

  /**
   * The deadline passed. True when the request is answered "retry later" (nothing of it was
   * offered: what is queued is withdrawn now); false when it must run to its real outcome.
   */
  expire(): boolean {
    if (this.offered) return false;
    this.controller.abort(new RequestTimeout(this.ms, this.what));
    return true;
  }
}

/**
 * Runs `work` under a deadline of `ms`. At the deadline, if nothing of the request was offered to
 * the store, the answer is RequestTimeout ("retry later"): its queued commands were withdrawn and
 * whatever else it waits for (a read) has no effect. Otherwise the work's own outcome is the
 * answer, however long the store takes.
 */
export function withDeadline<T>(ms: number, what: string, work: (deadline: RequestDeadline) => Promise<T>): Promise<T> {
  const deadline = new RequestDeadline(ms, what);
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      if (deadline.expire()) reject(new RequestTimeout(ms, what));
    }, ms);
    work(deadline).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
