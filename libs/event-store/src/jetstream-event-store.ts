import type { NatsConnection } from '@nats-io/transport-node';
import type { StreamNames } from '#contracts';
import { appendConditionally, type AppendContext } from './append';
import type { LinkedSubjects } from './chain';
import type {
  AggregateStreamOptions,
  AggregateStreamResult,
  AppendToStreamOptions,
  AppendToStreamResult,
  EventStore,
  ReadStreamOptions,
  ReadStreamResult,
} from './event-store';
import { scan, type ReplaySettings } from './replay';
import { defaultMalformedReporter, StreamAccess } from './stream-access';
import { subscribe, type SubscribeHooks, type SubscribeOptions, type Subscription } from './subscription';
import type { MalformedHandler, MalformedMessage, MessageCodec, StoredMessage } from './types';

export interface EventStoreOptions<M> {
  nc: NatsConnection;
  names: StreamNames;
  codec: MessageCodec<M>;
  /** Where malformed messages are reported. Default: one line on stderr (never silent). */
  onMalformed?: MalformedHandler;
  /** Per-attempt timeout of publishes and lookups. Default 2000 ms: a retry is safe (same msgID). */
  publishTimeoutMs?: number;
  /** Attempts for transient failures (publish, lookups, consumer creation). Default 5. */
  transientAttempts?: number;
  /** A replay that receives nothing for this long fails instead of hanging. Default 30000 ms. */
  readIdleTimeoutMs?: number;
  /** Subjects whose every message must carry the expectation (see chain.ts `LinkedSubjects`). */
  linkedSubjects?: LinkedSubjects;
}

/**
 * The project's JetStream event store. One subject is one aggregate; the stream sequence of the
 * subject's last message is the aggregate's version, checked on every append
 * (`Nats-Expected-Last-Subject-Sequence`), so a writer with a stale view fails instead of
 * overwriting a decision it did not see. Because a clustered nats-server 2.9 can let a stale append
 * through, every reader applies the same check to the stored log (chain.ts).
 *
 * The parts: append.ts (conditional append), replay.ts (bounded replay), subscription.ts (live
 * subscription), stream-access.ts (what they share).
 */
export class JetStreamEventStore<M> implements EventStore<M> {
  readonly names: StreamNames;
  private readonly access: StreamAccess<M>;
  private readonly replay: ReplaySettings;
  private readonly appending: AppendContext<M>;

  constructor(opts: EventStoreOptions<M>) {
    this.names = opts.names;
    this.access = new StreamAccess({
      nc: opts.nc,
      names: opts.names,
      codec: opts.codec,
      onMalformed: opts.onMalformed ?? defaultMalformedReporter,
      publishTimeoutMs: opts.publishTimeoutMs ?? 2000,
      transientAttempts: Math.max(1, opts.transientAttempts ?? 5),
      linkedSubjects: opts.linkedSubjects,
    });
    this.replay = { readIdleTimeoutMs: opts.readIdleTimeoutMs ?? 30_000 };
    // Every conditional append is checked against the reader rule (append.ts confirmLink).
    this.appending = { access: this.access, findById: (s, from, id) => this.findById(s, from, id) };
  }

  appendToStream(subject: string, message: M, options: AppendToStreamOptions): Promise<AppendToStreamResult> {
    return appendConditionally(this.appending, subject, message, options.expectedVersion, options);
  }

  currentVersion(subject: string): Promise<number> {
    return this.access.lastSequence(subject);
  }

  async readStream(subject: string, options: ReadStreamOptions = {}): Promise<ReadStreamResult<M>> {
    const messages: StoredMessage<M>[] = [];
    const malformed: MalformedMessage[] = [];
    const version = await scan(this.access, this.replay, subject, { from: options.from ?? 1, to: options.to }, (m, valid) => {
      const stored = this.access.decode(m, valid);
      if ('error' in stored) {
        malformed.push(stored);
        this.access.report(stored);
      } else {
        messages.push(stored);
      }
    });
    return { messages, malformed, version };
  }

  /** Folds without keeping the messages in memory. */
  async aggregateStream<S>(subject: string, options: AggregateStreamOptions<S, M>): Promise<AggregateStreamResult<S>> {
    let state = options.from ? options.from.state : options.initialState;
    let applied = 0;
    const malformed: MalformedMessage[] = [];
    const from = options.from ? options.from.version + 1 : 1;
    const version = await scan(this.access, this.replay, subject, { from }, (m, valid) => {
      const stored = this.access.decode(m, valid);
      if ('error' in stored) {
        malformed.push(stored);
        this.access.report(stored);
        return;
      }
      state = options.evolve(state, stored);
      applied++;
    });
    return { state, version, applied, malformed };
  }

  /** Live subscription (JetStream only): see subscription.ts. */
  subscribe(
    filterSubject: string,
    options: SubscribeOptions,
    handler: (message: StoredMessage<M>) => void | Promise<void>,
    hooks: SubscribeHooks = {},
  ): Promise<Subscription> {
    return subscribe(this.access, filterSubject, options, handler, hooks);
  }

  private async findById(subject: string, from: number, id: string): Promise<number | undefined> {
    let found: number | undefined;
    await scan(this.access, this.replay, subject, { from }, (m) => {
      const decoded = this.access.codec.decode(m.data);
      if (found === undefined && decoded.ok && this.access.codec.idOf(decoded.value) === id) found = m.seq;
    });
    return found;
  }
}
