import { ConcurrencyConflict } from './errors';
import {
  checkExpectedVersion,
  type AggregateStreamOptions,
  type AggregateStreamResult,
  type AppendToStreamOptions,
  type AppendToStreamResult,
  type EventStore,
  type ReadStreamOptions,
  type ReadStreamResult,
} from './event-store';
import { noLinkedSubjects, STALE_APPEND, staleAppendMessage, type LinkedSubjects } from './chain';
import { defaultMalformedReporter, reportMalformed } from './stream-access';
import type { MalformedHandler, MalformedMessage, MessageCodec, StoredMessage } from './types';

type Entry<M> = { stored: StoredMessage<M> } | { malformed: MalformedMessage };

export interface InMemoryEventStoreOptions<M> {
  /** The message's id: a second append of the same id is a duplicate, as with JetStream's msgID. */
  idOf: (message: M) => string;
  /** Decodes what `appendRaw` stores; without it every raw message is malformed. */
  decode?: MessageCodec<M>['decode'];
  onMalformed?: MalformedHandler;
  /** Stamps stored messages (the server's clock in JetStream). */
  clock?: () => number;
  /** Subjects where every message must be a conditional append (chain.ts `LinkedSubjects`). */
  linkedSubjects?: LinkedSubjects;
}

/**
 * The event store kept in memory, with JetStream's rules: one sequence across every subject, a
 * subject's version is its last message's sequence, conditional appends, duplicates by id (the
 * whole history counts as the duplicate window). The deciders' tests and the model-based test run
 * the command handler over it; `event-store.contract.ts` checks it against the JetStream store.
 * A conditional append is checked before it is stored, so there are no stale appends to skip.
 */
export class InMemoryEventStore<M> implements EventStore<M> {
  /** Each subject's entries in stream order. */
  private readonly streams = new Map<string, Entry<M>[]>();
  private sequence = 0;
  private readonly ids = new Map<string, number>();
  private readonly onMalformed: MalformedHandler;

  constructor(private readonly options: InMemoryEventStoreOptions<M>) {
    this.onMalformed = options.onMalformed ?? defaultMalformedReporter;
  }

  appendToStream(subject: string, message: M, options: AppendToStreamOptions): Promise<AppendToStreamResult> {
    try {
      return Promise.resolve(this.appendNow(subject, message, options));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Stores bytes as a foreign writer could put them on the stream, unchecked: decoded with
   * `decode` when read, reported as malformed if they do not decode. Returns the sequence.
   */
  appendRaw(subject: string, data: Uint8Array): number {
    const sequence = ++this.sequence;
    // Raw bytes carry no expectation: on a linked subject every reader skips them (chain.ts).
    if ((this.options.linkedSubjects ?? noLinkedSubjects)(subject)) {
      const raw = { seq: sequence, subject, data, time: this.now(), expectedLast: undefined };
      this.push(subject, { malformed: { sequence, subject, error: { kind: STALE_APPEND, message: staleAppendMessage(raw) }, raw: data } });
      return sequence;
    }
    const decoded = this.options.decode?.(data) ?? { ok: false as const, error: { kind: 'no-decoder', message: 'this store has no decoder' } };
    this.push(subject, decoded.ok
      ? { stored: { sequence, subject, time: this.now(), message: decoded.value } }
      : { malformed: { sequence, subject, error: decoded.error, raw: data } });
    return sequence;
  }

  currentVersion(subject: string): Promise<number> {
    return Promise.resolve(this.versionOf(subject));
  }

  readStream(subject: string, options: ReadStreamOptions = {}): Promise<ReadStreamResult<M>> {
    const messages: StoredMessage<M>[] = [];
    const malformed: MalformedMessage[] = [];
    const version = this.fold(subject, options.from ?? 1, options.to, (s) => messages.push(s), malformed);
    return Promise.resolve({ messages, malformed, version });
  }

  aggregateStream<S>(subject: string, options: AggregateStreamOptions<S, M>): Promise<AggregateStreamResult<S>> {
    let state = options.from ? options.from.state : options.initialState;
    let applied = 0;
    const malformed: MalformedMessage[] = [];
    const from = options.from ? options.from.version + 1 : 1;
    const version = this.fold(subject, from, undefined, (s) => {
      state = options.evolve(state, s);
      applied++;
    }, malformed);
    return Promise.resolve({ state, version, applied, malformed });
  }

  private appendNow(subject: string, message: M, options: AppendToStreamOptions): AppendToStreamResult {
    checkExpectedVersion(options.expectedVersion);
    if (options.expectedVersion === 'any' && (this.options.linkedSubjects ?? noLinkedSubjects)(subject)) {
      throw new RangeError(`${subject} takes only conditional appends: readers ignore a message on it without an expected version`);
    }
    const id = this.options.idOf(message);
    const earlier = this.ids.get(id);
    // Like JetStream's duplicate window: a retried id is acknowledged, not stored twice, before
    // the expectation is checked.
    if (earlier !== undefined) return { nextExpectedVersion: earlier, duplicate: true };
    const actual = this.versionOf(subject);
    if (options.expectedVersion !== 'any' && options.expectedVersion !== actual) {
      throw new ConcurrencyConflict(subject, options.expectedVersion, actual);
    }
    const sequence = ++this.sequence;
    this.push(subject, { stored: { sequence, subject, time: this.now(), message } });
    this.ids.set(id, sequence);
    return { nextExpectedVersion: sequence, duplicate: false };
  }

  /** Visits the subject's messages in [from, to]; returns the subject's version. */
  private fold(subject: string, from: number, to: number | undefined, visit: (m: StoredMessage<M>) => void, malformed: MalformedMessage[]): number {
    const entries = this.streams.get(subject) ?? [];
    const version = this.versionOf(subject);
    const end = Math.min(version, to ?? version);
    for (let i = firstAtOrAfter(entries, Math.floor(from)); i < entries.length && sequenceOf(entries[i]) <= end; i++) {
      const entry = entries[i];
      if ('stored' in entry) {
        visit(entry.stored);
      } else {
        malformed.push(entry.malformed);
        reportMalformed(entry.malformed, this.onMalformed);
      }
    }
    return version;
  }

  private versionOf(subject: string): number {
    const entries = this.streams.get(subject);
    return entries?.length ? sequenceOf(entries[entries.length - 1]) : 0;
  }

  private push(subject: string, entry: Entry<M>): void {
    const entries = this.streams.get(subject);
    if (entries) entries.push(entry);
    else this.streams.set(subject, [entry]);
  }

  private now(): Date {
    return new Date((this.options.clock ?? Date.now)());
  }
}

const sequenceOf = <M>(e: Entry<M>): number => ('stored' in e ? e.stored.sequence : e.malformed.sequence);

/** Index of the first entry with a sequence >= `from` (binary search: catch-ups read the tail). */
function firstAtOrAfter<M>(entries: Entry<M>[], from: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sequenceOf(entries[mid]) < from) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
