import { setTimeout as sleep } from 'node:timers/promises';
import { jitteredDelay } from './backoff';
import { ConcurrencyConflict, ContentionExhausted } from './errors';
import type { EventStore } from './event-store';

/** What `decide` concluded on one state: a message to append (null: nothing) and the outcome to return. */
export interface Decided<M, O> {
  message: M | null;
  outcome: O;
  /**
   * With nothing to append, the outcome is only true on a current state (e.g. a grant already
   * recorded): the handler confirms the version against the store and decides again if it moved.
   */
  needsCurrentState?: boolean;
}

/**
 * Where the state to decide on comes from. A reload (`reloadEachAttempt`) reads the stream every
 * time; a live view hands out its state at once and catches up when told to.
 */
export interface StateSource<S> {
  /** The state to decide on and the version it reflects. */
  current(): Promise<{ state: S; version: number }> | { state: S; version: number };
  /**
   * The store is known to be at `version` or later: bring the state at least that far
   * (undefined: the version is unknown, e.g. a server that did not say; catch up to the store's now).
   */
  catchUp(version: number | undefined): Promise<void>;
  /** A source that follows the subject and judges every message by the reader rule: its verdict (AppendToStreamOptions.verdict). */
  verdict?: (sequence: number) => Promise<boolean | undefined>;
}

export interface HandleOptions<S, M, O> {
  store: Pick<EventStore<M>, 'appendToStream' | 'currentVersion'>;
  subject: string;
  source: StateSource<S>;
  /** Pure: the same state gives the same decision. Called again after every conflict. */
  decide: (state: S) => Decided<M, O>;
  /** Attempts before giving up with ContentionExhausted. Default 10. */
  maxAttempts?: number;
  /** Ceiling of the jittered pause after a lost race; 0 for none (a live view waits for the winner instead). Default 50 ms. */
  maxBackoffMs?: number;
  /** Called after each lost race, e.g. to count conflicts. */
  onConflict?: (conflict: ConcurrencyConflict, attempt: number) => void;
  /**
   * Once a message is offered, wait for the store's verdict (AppendToStreamOptions.untilKnown)
   * instead of failing with AppendUnavailable: whoever answers the caller then answers the real
   * outcome, never "retry later" for a decision that may stand.
   */
  untilKnown?: boolean;
}

export interface Handled<M, O> {
  outcome: O;
  /** The message stored (null: nothing to append). */
  message: M | null;
  /** Stream sequence of the appended message; null when nothing was appended. */
  sequence: number | null;
  /** The subject's version after the call: the appended sequence, else the version decided on. */
  version: number;
  /** True when the append turned out to be a retry of a message already stored. */
  duplicate: boolean;
  /** 1 when the first decision went through. */
  attempts: number;
}

/**
 * The one command loop, in the shape of Emmett's CommandHandler: take the state, decide, append
 * with the state's version as the expectation; on a conflict someone else decided first, so catch
 * up and decide again (bounded). Outcomes with nothing to append are returned as they are: they were
 * taken on a state that was current when taken, which is all a read can promise, unless the
 * decision asks for a confirmed current state.
 *
 * After an append the source is caught up to the new version, so the caller's next command sees
 * its own write. Only ConcurrencyConflict is retried here: transient failures are retried inside
 * `appendToStream` with the same message; deciding again after one could store a second decision.
 */
export async function handleCommand<S, M, O>(opts: HandleOptions<S, M, O>): Promise<Handled<M, O>> {
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 10);
  const maxBackoffMs = opts.maxBackoffMs ?? 50;
  let lastConflict: ConcurrencyConflict | undefined;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const { state, version } = await opts.source.current();
    const { message, outcome, needsCurrentState } = opts.decide(state);
    if (message === null) {
      if (needsCurrentState) {
        const latest = await opts.store.currentVersion(opts.subject);
        if (latest !== version) {
          await opts.source.catchUp(latest);
          continue;
        }
      }
      return { outcome, message, sequence: null, version, duplicate: false, attempts: attempt };
    }
    try {
      const appended = await opts.store.appendToStream(opts.subject, message, { expectedVersion: version, untilKnown: opts.untilKnown, verdict: opts.source.verdict });
      await opts.source.catchUp(appended.nextExpectedVersion).catch(() => {
        // The decision is stored: its outcome stands, and failing now would answer "retry later"
        // for it. A source that could not catch up (a live view being replaced) is still safe:
        // its next append carries a stale version, loses the race and catches up then.
      });
      return { outcome, message, sequence: appended.nextExpectedVersion, version: appended.nextExpectedVersion, duplicate: appended.duplicate, attempts: attempt };
    } catch (err) {
      if (!(err instanceof ConcurrencyConflict)) throw err;
      lastConflict = err;
      opts.onConflict?.(err, attempt);
      if (attempt >= maxAttempts) break;
      await opts.source.catchUp(err.actual);
      if (maxBackoffMs > 0) await sleep(jitteredDelay(attempt - 1, 2, maxBackoffMs));
    }
  }
  throw new ContentionExhausted(opts.subject, maxAttempts, { cause: lastConflict });
}

/**
 * A source that loads the state afresh on every attempt (e.g. `aggregateStream` from a new initial
 * state): for processes without a live view. Nothing to catch up: the next load reads the news.
 */
export function reloadEachAttempt<S>(load: () => Promise<{ state: S; version: number }>): StateSource<S> {
  return { current: load, catchUp: () => Promise.resolve() };
}
