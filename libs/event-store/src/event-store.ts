import type { MalformedMessage, StoredMessage } from './types';

/**
 * The one event-store interface, in the shape of Emmett's `EventStore` (event-driven-io/emmett):
 * read a stream, fold it into a state, append with an expected version. One subject is one stream
 * (one aggregate). Its **version** is the stream sequence of the subject's last stored message
 * (0: no message yet), malformed and stale messages included. `JetStreamEventStore` and
 * `InMemoryEventStore` implement it; `event-store.contract.ts` checks both the same way.
 *
 * One append is one message: a decision's events travel in one envelope, because nats-server 2.9
 * has no atomic batch publish and a decision must be all or nothing.
 */
export interface EventStore<M> {
  /**
   * Every message of `subject` from `from` (default 1) up to `to` (default: the subject's last
   * message at call time). Malformed messages are reported and returned apart, never thrown.
   */
  readStream(subject: string, options?: ReadStreamOptions): Promise<ReadStreamResult<M>>;
  /** Folds the subject's messages into a state; with `from` (a snapshot) only the later ones. */
  aggregateStream<S>(subject: string, options: AggregateStreamOptions<S, M>): Promise<AggregateStreamResult<S>>;
  /**
   * Appends one message if the subject's version is still `expectedVersion` (or with `'any'`).
   * A message whose id is already stored (a retry after a lost ack) is a success with `duplicate`.
   *
   * @throws ConcurrencyConflict when another writer appended first.
   */
  appendToStream(subject: string, message: M, options: AppendToStreamOptions): Promise<AppendToStreamResult>;
  /** The subject's version now (0 if it has no message). */
  currentVersion(subject: string): Promise<number>;
}

/** The subject's expected version (0: no message yet), or `any` for no check. */
export type ExpectedVersion = number | 'any';

export interface AppendToStreamOptions {
  expectedVersion: ExpectedVersion;
  /**
   * Keep retrying transient failures with the same message until the store says stored or
   * refused, instead of giving up with AppendUnavailable ("may be stored"). For callers that must
   * never answer "retry later" for a decision that may stand (the agent's in-flight requests).
   */
  untilKnown?: boolean;
  /**
   * The reader rule's verdict (chain.ts) on the message stored at a sequence, from a reader that
   * already follows the subject and judges every message (a live view): true accepted, false a
   * stale append, undefined unknown. Spares the two stream lookups of the writer's own link check
   * (measured here: they cost more than the publish itself); unknown falls back to them.
   */
  verdict?: (sequence: number) => Promise<boolean | undefined>;
}

export interface AppendToStreamResult {
  /** Stream sequence of the stored message: the subject's new version, to expect next time. */
  nextExpectedVersion: number;
  /** True when the store already had this message id (a retry after a lost ack): still a success. */
  duplicate: boolean;
}

export interface ReadStreamOptions {
  /** First stream sequence to return. Default 1. */
  from?: number;
  /** Last stream sequence to return. Default: the subject's version at call time. */
  to?: number;
}

export interface ReadStreamResult<M> {
  messages: StoredMessage<M>[];
  malformed: MalformedMessage[];
  /** The subject's version when the read started (0 if it has no message). */
  version: number;
}

export interface AggregateStreamOptions<S, M> {
  initialState: S;
  evolve: (state: S, message: StoredMessage<M>) => S;
  /** A snapshot: `state` already includes every message of the subject up to `version`. */
  from?: { state: S; version: number };
}

export interface AggregateStreamResult<S> {
  state: S;
  /** The subject's version the state reflects: the expectation for the next append. */
  version: number;
  /** Messages folded into the state by this call (snapshot excluded). */
  applied: number;
  malformed: MalformedMessage[];
}

/** Refuses a negative or fractional expectation before anything is sent. */
export function checkExpectedVersion(expected: ExpectedVersion): void {
  if (expected !== 'any' && !(Number.isSafeInteger(expected) && expected >= 0)) {
    throw new RangeError(`expectedVersion must be a non-negative integer or 'any', got ${String(expected)}`);
  }
}
