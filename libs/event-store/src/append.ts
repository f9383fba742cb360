import type { JetStreamPublishOptions } from '@nats-io/jetstream';
import { setTimeout as sleep } from 'node:timers/promises';
import { jitteredDelay } from './backoff';
import { fromGet, linkHolds } from './chain';
import { actualFromDescription, AppendUnavailable, ConcurrencyConflict, isNoResponders, isTransient, isWrongLastSequence } from './errors';
import { checkExpectedVersion, type AppendToStreamOptions, type AppendToStreamResult, type ExpectedVersion } from './event-store';
import type { StreamAccess } from './stream-access';

/** What the conditional append needs besides the stream access. */
export interface AppendContext<M> {
  access: StreamAccess<M>;
  /** Sequence of the message with this id on the subject, at or after `from` (bounded replay). */
  findById: (subject: string, from: number, id: string) => Promise<number | undefined>;
}

/**
 * Appends one message (one decision) to `subject` if the subject's last sequence is still
 * `expected`. Transient failures are retried with the same msgID, so a publish whose ack was lost
 * comes back as `{duplicate: true}` instead of being stored twice.
 *
 * @throws ConcurrencyConflict when another writer appended first.
 * @throws AppendUnavailable when transient failures outlast the retries (the message may be stored);
 *   never with `untilKnown`.
 */
export async function appendConditionally<M>(
  ctx: AppendContext<M>,
  subject: string,
  message: M,
  expected: ExpectedVersion,
  { untilKnown = false, verdict }: { untilKnown?: boolean; verdict?: AppendToStreamOptions['verdict'] } = {},
): Promise<AppendToStreamResult> {
  const { access } = ctx;
  access.checkSubject(subject, false);
  checkExpectedVersion(expected);
  if (expected === 'any' && access.linkedSubjects(subject)) {
    throw new RangeError(`${subject} takes only conditional appends: readers ignore a message on it without an expected version`);
  }
  const data = access.codec.encode(message);
  const msgID = access.codec.idOf(message);
  const publishOpts: Partial<JetStreamPublishOptions> = { msgID, timeout: access.publishTimeoutMs };
  if (expected !== 'any') publishOpts.expect = { lastSubjectSequence: expected };

  // Set once an attempt failed in a way that may have stored the message anyway.
  let maybeStored = false;
  for (let attempt = 1; ; attempt++) {
    try {
      await access.gate.ready(access.publishTimeoutMs);
      const ack = await access.js.publish(subject, data, publishOpts);
      if (expected !== 'any') await confirmLink(ctx, subject, ack.seq, ack.duplicate ? undefined : expected, expected, ack.duplicate ? undefined : verdict);
      return { nextExpectedVersion: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      if (isWrongLastSequence(err)) {
        // The server answers a retry of a stored message with `duplicate` before it checks the
        // expectation. Should that ever not hold (the msgID left the window, a replica that had
        // not applied it yet), our own earlier attempt would look like someone else's append and
        // the caller would decide twice: look for it before reporting a conflict.
        if (maybeStored && expected !== 'any') {
          const stored = await ctx.findById(subject, expected + 1, msgID);
          if (stored !== undefined) {
            await confirmLink(ctx, subject, stored, undefined, expected);
            return { nextExpectedVersion: stored, duplicate: true };
          }
        }
        throw new ConcurrencyConflict(subject, expected as number, actualFromDescription(err.message), { cause: err });
      }
      if (!isTransient(err)) throw err;
      // "No responders" means no stream took the message: only timeouts and 503s leave it unknown.
      maybeStored ||= !isNoResponders(err);
      // With untilKnown the same message is offered until the store answers: the msgID (inside the
      // duplicate window) or the lost-ack guard above (after it) keeps that to one stored decision.
      if (attempt >= access.transientAttempts && !(untilKnown && maybeStored)) throw new AppendUnavailable(subject, attempt, { cause: err });
      await sleep(jitteredDelay(attempt, 25, 1000));
    }
  }
}

/**
 * Confirms that the message at `seq` links to its predecessor as readers will require (chain.ts);
 * otherwise readers skip it, and the writer must hear that it lost the race. Done on every
 * conditional append, whatever the stream's replica count: the count can change under a running
 * writer (an operator scales R1 to R3), and an answer cached from before would let a writer report
 * success for a message every reader ignores (issue 10, item 5). `linkedTo` undefined: read the
 * expectation the stored message carries (a duplicate may come from an earlier call).
 */
async function confirmLink<M>(
  ctx: AppendContext<M>,
  subject: string,
  seq: number,
  linkedTo: number | undefined,
  expected: number,
  verdict?: AppendToStreamOptions['verdict'],
): Promise<void> {
  const judged = await verdict?.(seq).catch(() => undefined);
  if (judged === true) return;
  if (judged === false) throw staleAppend(subject, expected, seq);
  let link = linkedTo;
  if (link === undefined) {
    const stored = await ctx.access.getMessage({ seq });
    link = stored ? fromGet(stored).expectedLast : undefined;
    if (link === undefined) return;
  }
  if (await linkHolds(ctx.access.lookup, subject, seq, link)) return;
  throw staleAppend(subject, expected, seq);
}

function staleAppend(subject: string, expected: number, seq: number): ConcurrencyConflict {
  return new ConcurrencyConflict(subject, expected, seq, { cause: new Error(`the server accepted the append at ${seq}, but another writer's message came first: readers ignore it`) });
}
