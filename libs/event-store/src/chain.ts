import type { JsMsg, StoredMsg } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/transport-node';

/**
 * Why the log itself, not only the server, decides which appends count.
 *
 * On a replicated stream, nats-server 2.9 checks `Nats-Expected-Last-Subject-Sequence` on the
 * leader against what it has *applied*, not against proposals still in flight
 * (nats-io/nats-server#4320; newer servers still lose that state across a leader change,
 * nats-io/nats-server#8469). Two writers that loaded the same version can then both be accepted:
 * measured here on a 3-node 2.9.10 cluster, six concurrent publishes with the same expectation had
 * more than one accepted in 197 of 200 rounds. A single server checks correctly.
 *
 * The server stores the expectation header with the message, so every reader can apply the rule
 * the server should have: a message that carries an expectation counts only if the expectation is
 * the sequence of the subject's previous stored message (0: none). Messages that fail it are
 * "stale appends": skipped and reported like malformed ones, yet still part of the version, since
 * the server's own check counts them. The rule only looks at stored facts, so every reader, at any
 * time, judges every message the same way, and a writer whose message failed it is told so
 * (`ConcurrencyConflict`) after checking the link right after its append.
 */
export const EXPECTED_LAST_SUBJECT_SEQUENCE = 'Nats-Expected-Last-Subject-Sequence';

/** The `error.kind` of a message accepted by the server although its expectation was stale. */
export const STALE_APPEND = 'stale-append';

/** What both a consumer delivery (JsMsg) and a single get (StoredMsg) provide. */
export interface RawMessage {
  seq: number;
  subject: string;
  data: Uint8Array;
  time: Date;
  /** The expectation the writer published with; undefined for unconditional appends. */
  expectedLast: number | undefined;
}

export function fromConsumer(m: JsMsg): RawMessage {
  return { seq: m.seq, subject: m.subject, data: m.data, time: m.time, expectedLast: expectation(m.headers) };
}

export function fromGet(m: StoredMsg): RawMessage {
  return { seq: m.seq, subject: m.subject, data: m.data, time: m.time, expectedLast: expectation(m.header) };
}

function expectation(h: MsgHdrs | undefined): number | undefined {
  const value = h?.get(EXPECTED_LAST_SUBJECT_SEQUENCE);
  if (!value) return undefined;
  const n = Number(value);
  // An unparsable header never passed the server's check, so it cannot link to anything.
  return Number.isSafeInteger(n) && n >= 0 ? n : -1;
}

/** The two stream lookups a link check needs. */
export interface LinkLookup {
  /** The subject of the message at `seq`, undefined if there is none. */
  subjectAt(seq: number): Promise<string | undefined>;
  /** The first sequence at or after `seq` holding a message of `subject`. */
  nextOf(subject: string, seq: number): Promise<number | undefined>;
}

/** Whether `expected` is the sequence of the message of `subject` stored right before `seq`. */
export async function linkHolds(lookup: LinkLookup, subject: string, seq: number, expected: number): Promise<boolean> {
  if (expected < 0 || expected >= seq) return false;
  const [atExpected, following] = await Promise.all([
    expected === 0 ? Promise.resolve(subject) : lookup.subjectAt(expected),
    lookup.nextOf(subject, expected + 1),
  ]);
  return atExpected === subject && following === seq;
}

/**
 * Which subjects are linked chains: every message on them must carry the expectation (the cluster
 * aggregates). A message without one there bypassed the append protocol (a forged or foreign
 * publish): every reader treats it as a stale append, so it never changes a decision (I9).
 */
export type LinkedSubjects = (subject: string) => boolean;

export const noLinkedSubjects: LinkedSubjects = () => false;

/**
 * Judges messages met in stream order. Knows each subject's previous stored sequence once it has
 * seen one of its messages (or, when reading from the start, that there was none); otherwise asks
 * the stream.
 */
export class Chain {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly lookup: LinkLookup,
    /** True when the scan starts at sequence 1: no subject has a message before it. */
    private readonly fromStart: boolean,
    private readonly linked: LinkedSubjects = noLinkedSubjects,
  ) {}

  /**
   * A boolean when it can tell at once (the hot path), a promise when it must ask the stream.
   * @throws TruncatedHistory when, reading from the start, a subject's first stored message
   *   expects a predecessor: the messages before it were removed (purged or deleted).
   */
  judge(m: RawMessage): boolean | Promise<boolean> {
    const known = this.last.get(m.subject);
    if (known === undefined && this.fromStart && m.expectedLast !== undefined && m.expectedLast > 0) {
      throw new TruncatedHistory(m.subject, m.seq, m.expectedLast);
    }
    const previous = known ?? (this.fromStart ? 0 : undefined);
    this.last.set(m.subject, m.seq);
    if (m.expectedLast === undefined) return !this.linked(m.subject);
    if (previous !== undefined) return m.expectedLast === previous;
    return linkHolds(this.lookup, m.subject, m.seq, m.expectedLast);
  }
}

/**
 * The subject's history does not start where its first message says it does: what came before was
 * removed (purged, deleted, or dropped by a retention limit). Deciding on the rest would forget
 * records and grace periods (I6), so readers refuse. The one name for a log that lost its start.
 */
export class TruncatedHistory extends Error {
  override readonly name = 'TruncatedHistory';
  constructor(
    readonly subject: string,
    readonly firstSequence: number,
    /** The predecessor the first message links to (gone); undefined when the first event shows it instead. */
    readonly expectedPredecessor: number | undefined,
    /** The first event, when it is not the one a history starts with. */
    readonly firstEvent?: string,
  ) {
    const why = expectedPredecessor !== undefined
      ? `its first stored message (sequence ${firstSequence}) follows sequence ${expectedPredecessor}, which is gone`
      : `its first stored message (sequence ${firstSequence}, first event ${firstEvent ?? '(none)'}) is not where it began`;
    super(`the history of ${subject} was truncated: ${why}. Refusing to decide on a partial log: start from a trusted snapshot, ` +
      'or restore the stream from a backup (docs/security.md, "Lost history"; docs/operations.md, "History retention")');
  }
}

export function staleAppendMessage(m: RawMessage): string {
  if (m.expectedLast === undefined) return 'carries no expected last subject sequence on a subject where every append must: it bypassed the append protocol; ignored';
  return `accepted by the server although its expected last subject sequence ${m.expectedLast} is not the subject's previous message (clustered nats-server race); ignored`;
}
