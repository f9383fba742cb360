import { jitteredDelay, sleep } from './backoff';
import { ConcurrencyConflict, ContentionExhausted } from './errors';
import type { AppendResult, ExpectedSequence } from './event-store';

/** What `decide` concluded: a message to append (or none: a no-op), or a rejection. */
export type Decision<M, R = undefined, J = unknown> =
  | { ok: true; message: M | null; reply?: R }
  | { ok: false; rejection: J };

/** The part of the store `decideAndAppend` needs (a fake implements it in unit tests). */
export interface Appender<M> {
  append(subject: string, message: M, opts: { expectedLastSequence: ExpectedSequence }): Promise<AppendResult>;
}

export interface DecideAndAppendOptions<S, M, R, J> {
  store: Appender<M>;
  subject: string;
  /** Loads the current state and its version (stream sequence of the subject's last message, 0 if none). */
  load: () => Promise<{ state: S; version: number }>;
  /** Pure: the same state gives the same decision. Called again after every conflict. */
  decide: (state: S) => Decision<M, R, J>;
  /** Attempts before giving up with ContentionExhausted. Default 10. */
  maxAttempts?: number;
  /** Ceiling of the jittered pause between attempts. Default 50 ms. */
  maxBackoffMs?: number;
  /** Called after each lost race, e.g. to drop a cached state or count conflicts. */
  onConflict?: (conflict: ConcurrencyConflict, attempt: number) => void;
}

export interface DecideAndAppendResult<S, M, R, J> {
  decision: Decision<M, R, J>;
  /** The state the decision was taken on. */
  state: S;
  /** Stream sequence of the appended message; null for a rejection or a no-op. */
  sequence: number | null;
  /** The subject's version after the call: the appended sequence, else the version decided on. */
  version: number;
  /** True when the append turned out to be a retry of a message already stored. */
  duplicate: boolean;
  /** 1 when the first decision went through. */
  attempts: number;
}

/**
 * Optimistic concurrency loop: load, decide, append with the loaded version as expectation; on a
 * conflict someone else decided first, so reload and decide again on the new state. Rejections and
 * no-op decisions append nothing and are returned as they are: they were taken on a state that was
 * current when loaded, which is all a read can promise.
 *
 * Only ConcurrencyConflict is retried here. Transient failures are retried inside `append` with
 * the same message; deciding again after one could store a second, different decision.
 */
export async function decideAndAppend<S, M, R = undefined, J = unknown>(
  opts: DecideAndAppendOptions<S, M, R, J>,
): Promise<DecideAndAppendResult<S, M, R, J>> {
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 10);
  const maxBackoffMs = opts.maxBackoffMs ?? 50;
  let lastConflict: ConcurrencyConflict | undefined;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const { state, version } = await opts.load();
    const decision = opts.decide(state);
    if (!decision.ok || decision.message === null) {
      return { decision, state, sequence: null, version, duplicate: false, attempts: attempt };
    }
    try {
      const appended = await opts.store.append(opts.subject, decision.message, { expectedLastSequence: version });
      return { decision, state, sequence: appended.sequence, version: appended.sequence, duplicate: appended.duplicate, attempts: attempt };
    } catch (err) {
      if (!(err instanceof ConcurrencyConflict)) throw err;
      lastConflict = err;
      opts.onConflict?.(err, attempt);
      if (attempt < maxAttempts) await sleep(jitteredDelay(attempt - 1, 2, maxBackoffMs));
    }
  }
  throw new ContentionExhausted(opts.subject, maxAttempts, { cause: lastConflict });
}
