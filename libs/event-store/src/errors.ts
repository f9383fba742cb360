import { JetStreamApiError } from '@nats-io/jetstream';
import { RequestError, TimeoutError } from '@nats-io/transport-node';

/** JetStream API error codes the store acts on. */
export const JsErrorCodes = {
  /** `Nats-Expected-Last-Subject-Sequence` did not match: another writer got there first. */
  WrongLastSequence: 10071,
  /** Newer servers (2.11+) when they cannot tell the actual sequence; treated like 10071. */
  WrongLastSequenceUnknown: 10164,
  /** Reported as temporarily unavailable (HTTP-like status 503): retry unchanged. */
  Unavailable: 10163,
  StreamNotFound: 10059,
  StreamNameInUse: 10058,
} as const;

/**
 * The subject moved on since the caller loaded it. Not a failure of the store: the caller reloads
 * and decides again (see `handleCommand`).
 */
export class ConcurrencyConflict extends Error {
  override readonly name = 'ConcurrencyConflict';
  constructor(
    readonly subject: string,
    readonly expected: number,
    /** The subject's real last sequence when the server said so (2.9 puts it in the description). */
    readonly actual: number | undefined,
    options?: ErrorOptions,
  ) {
    super(`concurrency conflict on ${subject}: expected last sequence ${expected}${actual === undefined ? '' : `, actual ${actual}`}`, options);
  }
}

/**
 * A publish kept failing with transient errors (timeouts, no responders, 503). The message may or
 * may not be stored: retrying the same message (same id) inside the duplicate window is safe,
 * deciding again is not.
 */
export class AppendUnavailable extends Error {
  override readonly name = 'AppendUnavailable';
  constructor(readonly subject: string, readonly attempts: number, options?: ErrorOptions) {
    super(`append to ${subject} failed after ${attempts} attempts: ${errorText(options?.cause)}`, options);
  }
}

/** `handleCommand` lost the race on every attempt. */
export class ContentionExhausted extends Error {
  override readonly name = 'ContentionExhausted';
  constructor(readonly subject: string, readonly attempts: number, options?: ErrorOptions) {
    super(`gave up on ${subject} after ${attempts} concurrency conflicts`, options);
  }
}

export function isWrongLastSequence(err: unknown): err is JetStreamApiError {
  return err instanceof JetStreamApiError
    && (err.code === JsErrorCodes.WrongLastSequence || err.code === JsErrorCodes.WrongLastSequenceUnknown);
}

/** The server's description on 2.9/2.10 is `wrong last sequence: <n>`. */
export function actualFromDescription(message: string): number | undefined {
  const match = /wrong last sequence:\s*(\d+)/i.exec(message);
  return match ? Number(match[1]) : undefined;
}

/**
 * Errors after which the very same publish may succeed: the server was busy or electing a leader,
 * or the reply got lost. A timed-out publish may have been stored, which is why retries must reuse
 * the msgID.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof TimeoutError) return true;
  if (err instanceof JetStreamApiError) return err.code === JsErrorCodes.Unavailable || err.status === 503;
  // The client reports "no responders" on a publish as JetStreamNotEnabled (cause: RequestError).
  // It happens while a stream leader is being elected, and also when no stream captures the subject
  // at all: bounded retries cover the first without hiding the second for long.
  return isNoResponders(err);
}

/** A publish no stream answered: nothing was stored (a stream leader election, or no stream at all). */
export function isNoResponders(err: unknown): boolean {
  // JetStreamNotEnabled is not exported by the package's public entry point, hence the name check.
  if (err instanceof Error && err.name === 'JetStreamNotEnabled') return err.cause instanceof RequestError && err.cause.isNoResponders();
  return err instanceof RequestError && err.isNoResponders();
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
