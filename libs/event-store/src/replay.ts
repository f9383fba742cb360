import { Chain, fromConsumer, fromGet, type RawMessage } from './chain';
import { nextBySubject, pullOptions, type StreamAccess } from './stream-access';

/** How a bounded replay pulls and when it gives up. */
export interface ReplaySettings {
  /** A replay that receives nothing for this long fails instead of hanging. */
  readIdleTimeoutMs: number;
}

const SINGLE_GETS_BEFORE_CONSUMER = 8;

/**
 * Bounded replay: streams the subject's messages from `from` to the subject's last message at call
 * time (or to `to`, if lower), each judged by the stale-append chain. Returns the subject's version:
 * its last sequence at call time, or a later message's if one was visited.
 *
 * The first few messages come from single gets (`next_by_subj`, ~0.5 ms each): a load from a
 * recent snapshot usually finds zero to two new messages, where an ordered consumer's set-up
 * (stream info, create, first pull: ~7 ms measured) would dominate. Longer replays continue through an
 * ordered consumer, pulling up to PULL_MAX_BYTES at a time (~10x the rate of single gets).
 *
 * The target comes from the stream leader (STREAM.MSG.GET), but on a replicated stream the
 * ephemeral consumer may be placed on a follower that has not stored the latest messages yet. Seen
 * on a 3-node 2.9.10 cluster during and after a scale from R1 to R3: consumers on a follower
 * reporting nothing pending while the leader held the target, one new replica delivering nothing
 * for a whole run. A replay that stopped there returned the leader's version with a state that
 * lacked messages; a writer then appended decisions taken on that state under an expectation the
 * server and every reader accept (issue 10 item 5). So whatever the consumer did not deliver up to
 * the target is read from the leader.
 */
export async function scan<M>(
  access: StreamAccess<M>,
  settings: ReplaySettings,
  subject: string,
  range: { from: number; to?: number },
  visit: (m: RawMessage, valid: boolean) => void,
): Promise<number> {
  access.checkSubject(subject, false);
  const last = await access.lastSequence(subject);
  const stopAt = range.to === undefined ? last : Math.min(last, Math.floor(range.to));
  let next = Math.max(1, Math.floor(range.from));
  if (stopAt < next) return last;

  const chain = new Chain(access.lookup, next === 1, access.linkedSubjects);
  for (let gets = 0; ; gets++) {
    if (gets === SINGLE_GETS_BEFORE_CONSUMER) {
      const visited = await scanWithConsumer(access, settings, subject, { start: next, stopAt, to: range.to }, chain, visit);
      if (visited >= stopAt) return Math.max(last, visited);
      next = visited + 1;
    }
    const m = await access.getMessage(nextBySubject(subject, next));
    // Nothing left: the target message vanished (a purge) since the lookup.
    if (!m || (range.to !== undefined && m.seq > range.to)) return last;
    const raw = fromGet(m);
    visit(raw, await chain.judge(raw));
    if (m.seq >= stopAt) return Math.max(last, m.seq);
    next = m.seq + 1;
  }
}

/**
 * Visits the subject's messages from `range.start` through an ordered consumer until it reaches
 * `range.stopAt`, or until the consumer has nothing more to give (its replica may lag behind the
 * leader). Returns the sequence up to which every message of the subject was visited.
 */
async function scanWithConsumer<M>(
  access: StreamAccess<M>,
  settings: ReplaySettings,
  subject: string,
  range: { start: number; stopAt: number; to?: number },
  chain: Chain,
  visit: (m: RawMessage, valid: boolean) => void,
): Promise<number> {
  const consumer = await access.retryTransient(() => access.js.consumers.get(access.names.stream, {
    filter_subjects: subject,
    opt_start_seq: range.start,
  }));
  let visited = range.start - 1;
  try {
    if ((await consumer.info(true)).num_pending === 0) return visited;
    const messages = await consumer.consume(pullOptions());
    let seen = 0;
    let seenAtLastCheck = -1;
    // A replay that stops making progress (server gone for good) fails instead of hanging; a
    // ticker rather than a timer per message keeps the hot loop cheap.
    const watchdog = setInterval(() => {
      if (seen === seenAtLastCheck) messages.stop(new Error(`read of ${subject} made no progress for ${settings.readIdleTimeoutMs} ms`));
      seenAtLastCheck = seen;
    }, settings.readIdleTimeoutMs);
    try {
      for await (const m of messages) {
        seen++;
        if (range.to !== undefined && m.seq > range.to) return range.stopAt; // every message up to `to` came before it
        const raw = fromConsumer(m);
        // The single gets before saw this subject, so the chain answers synchronously here.
        const judged = chain.judge(raw);
        visit(raw, typeof judged === 'boolean' ? judged : await judged);
        visited = m.seq;
        // pending is what the consumer's replica still has for this filter: 0 before the target
        // leaves the rest to the caller, which asks the leader.
        if (m.seq >= range.stopAt || m.info.pending === 0) break;
      }
    } finally {
      clearInterval(watchdog);
      messages.stop();
    }
  } finally {
    // The ordered consumer is ephemeral; deleting it now beats leaving it for its inactivity timer.
    consumer.delete().catch(() => undefined);
  }
  return visited;
}
