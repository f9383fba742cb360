import {
  jetstream,
  type Consumer,
  type ConsumerMessages,
  type ConsumerNotification,
  type JetStreamClient,
  type JetStreamManager,
  type JetStreamPublishOptions,
  type MsgRequest,
  type StoredMsg,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { StreamNames } from '#contracts';
import { jitteredDelay, sleep } from './backoff';
import { Chain, fromConsumer, fromGet, linkHolds, STALE_APPEND, staleAppendMessage, type LinkLookup, type RawMessage } from './chain';
import { ConnectionGate } from './connection-gate';
import {
  actualFromDescription,
  AppendUnavailable,
  ConcurrencyConflict,
  errorText,
  isTransient,
  isWrongLastSequence,
} from './errors';
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
  /** Messages pulled per batch while replaying. Default 4096 (bounds memory, amortises round trips). */
  readBatch?: number;
  /** Messages pulled per batch by `subscribe`. Default 1024. */
  subscribeBatch?: number;
  /** A replay that receives nothing for this long fails instead of hanging. Default 30000 ms. */
  readIdleTimeoutMs?: number;
  /**
   * Check after each conditional append that the server's concurrency check really held (see
   * chain.ts). `auto` (default): only on replicated streams, where nats-server 2.9 can get it wrong.
   */
  verifyAppends?: 'auto' | boolean;
}

/** The subject's expected last stream sequence (0: no message yet), or `any` for no check. */
export type ExpectedSequence = number | 'any';

export interface AppendOptions {
  expectedLastSequence: ExpectedSequence;
}

export interface AppendResult {
  /** Stream sequence of the stored message: the subject's new version. */
  sequence: number;
  /** True when the server already had this msgID (a retry after a lost ack): still a success. */
  duplicate: boolean;
}

export interface ReadOptions {
  /** First stream sequence to return. Default 1. */
  fromSequence?: number;
}

export interface ReadResult<M> {
  messages: StoredMessage<M>[];
  malformed: MalformedMessage[];
  /** Stream sequence of the subject's last message, malformed or not (0 if none). */
  lastSequence: number;
}

export interface AggregateOptions<S, M> {
  initial: S;
  evolve: (state: S, message: StoredMessage<M>) => S;
  /** A snapshot: `state` already includes every message of the subject up to `sequence`. */
  from?: { state: S; sequence: number };
}

export interface AggregateResult<S> {
  state: S;
  /** Stream sequence of the subject's last message (0 if none): the expectation for the next append. */
  version: number;
  /** Messages folded into the state by this call (snapshot excluded). */
  applied: number;
  malformed: MalformedMessage[];
}

export interface SubscribeOptions {
  /** First stream sequence to deliver (a projection passes checkpoint + 1). */
  fromSequence: number;
}

export interface SubscribeHooks {
  /** Overrides the store's malformed-message reporter for this subscription. */
  onMalformed?: MalformedHandler;
  /** Consumer life events (recreated after a reconnect, heartbeats missed, ...) for logs and metrics. */
  onStatus?: (status: ConsumerNotification) => void;
}

export type SubscriptionEnd =
  | { reason: 'stopped'; lastSequence: number }
  | { reason: 'connection-closed'; lastSequence: number }
  | { reason: 'handler-failed'; lastSequence: number; error: unknown }
  | { reason: 'failed'; lastSequence: number; error: unknown };

export interface Subscription {
  /** Stops delivery; resolves once the handler in progress, if any, has returned. */
  stop(): Promise<SubscriptionEnd>;
  /**
   * Settles when delivery ends. Never rejects (a forgotten subscription must not become an unhandled
   * rejection); a failed handler ends it with `handler-failed`, and `lastSequence` is the last
   * message handled, so the caller can resubscribe from its checkpoint.
   */
  done: Promise<SubscriptionEnd>;
}

const SINGLE_GETS_BEFORE_CONSUMER = 8;

const defaultMalformedReporter: MalformedHandler = (m) => {
  console.warn(`[event-store] malformed message seq=${m.sequence} subject=${m.subject}: ${m.error.kind}: ${m.error.message}`);
};

/**
 * The project's single JetStream event store. One subject is one aggregate; the stream sequence of
 * the subject's last message is the aggregate's version, checked on every append
 * (`Nats-Expected-Last-Subject-Sequence`), so a writer with a stale view fails instead of
 * overwriting a decision it did not see. Because a clustered nats-server 2.9 can let a stale append
 * through, every reader applies the same check to the stored log (chain.ts).
 */
export class JetStreamEventStore<M> {
  readonly names: StreamNames;
  private readonly nc: NatsConnection;
  private readonly js: JetStreamClient;
  private readonly codec: MessageCodec<M>;
  private readonly onMalformed: MalformedHandler;
  private readonly transientAttempts: number;
  private readonly publishTimeoutMs: number;
  private readonly readBatch: number;
  private readonly subscribeBatch: number;
  private readonly readIdleTimeoutMs: number;
  private readonly gate: ConnectionGate;
  private readonly verifyAppends: 'auto' | boolean;
  private readonly lookup: LinkLookup;
  private jsm?: Promise<JetStreamManager>;
  private replicatedStream?: Promise<boolean>;

  constructor(opts: EventStoreOptions<M>) {
    this.nc = opts.nc;
    this.names = opts.names;
    this.codec = opts.codec;
    this.onMalformed = opts.onMalformed ?? defaultMalformedReporter;
    this.publishTimeoutMs = opts.publishTimeoutMs ?? 2000;
    this.transientAttempts = Math.max(1, opts.transientAttempts ?? 5);
    this.readBatch = opts.readBatch ?? 4096;
    this.subscribeBatch = opts.subscribeBatch ?? 1024;
    this.readIdleTimeoutMs = opts.readIdleTimeoutMs ?? 30_000;
    this.js = jetstream(this.nc, { timeout: this.publishTimeoutMs });
    this.gate = new ConnectionGate(this.nc);
    this.verifyAppends = opts.verifyAppends ?? 'auto';
    this.lookup = {
      subjectAt: async (seq) => (await this.getMessage({ seq }))?.subject,
      nextOf: async (subject, seq) => (await this.getMessage(nextBySubject(subject, seq)))?.seq,
    };
  }

  /**
   * Appends one message (one decision) to `subject` if the subject's last sequence is still
   * `expectedLastSequence`. Transient failures are retried with the same msgID, so a publish whose
   * ack was lost comes back as `{duplicate: true}` instead of being stored twice.
   *
   * @throws ConcurrencyConflict when another writer appended first.
   * @throws AppendUnavailable when transient failures outlast the retries (the message may be stored).
   */
  async append(subject: string, message: M, opts: AppendOptions): Promise<AppendResult> {
    this.checkSubject(subject, false);
    const expected = opts.expectedLastSequence;
    if (expected !== 'any' && !(Number.isSafeInteger(expected) && expected >= 0)) {
      throw new RangeError(`expectedLastSequence must be a non-negative integer or 'any', got ${String(expected)}`);
    }
    const data = this.codec.encode(message);
    const msgID = this.codec.idOf(message);
    const publishOpts: Partial<JetStreamPublishOptions> = { msgID, timeout: this.publishTimeoutMs };
    if (expected !== 'any') publishOpts.expect = { lastSubjectSequence: expected };

    // Set once an attempt failed in a way that may have stored the message anyway.
    let maybeStored = false;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.gate.ready(this.publishTimeoutMs);
        const ack = await this.js.publish(subject, data, publishOpts);
        if (expected !== 'any') await this.confirmLink(subject, ack.seq, ack.duplicate ? undefined : expected, expected);
        return { sequence: ack.seq, duplicate: ack.duplicate };
      } catch (err) {
        if (isWrongLastSequence(err)) {
          // The server answers a retry of a stored message with `duplicate` before it checks the
          // expectation. Should that ever not hold (the msgID left the window, a replica that had
          // not applied it yet), our own earlier attempt would look like someone else's append and
          // the caller would decide twice: look for it before reporting a conflict.
          if (maybeStored && expected !== 'any') {
            const stored = await this.findById(subject, expected + 1, msgID);
            if (stored !== undefined) {
              await this.confirmLink(subject, stored, undefined, expected);
              return { sequence: stored, duplicate: true };
            }
          }
          throw new ConcurrencyConflict(subject, expected as number, actualFromDescription(err.message), { cause: err });
        }
        if (!isTransient(err)) throw err;
        maybeStored = true;
        if (attempt >= this.transientAttempts) throw new AppendUnavailable(subject, attempt, { cause: err });
        await sleep(jitteredDelay(attempt, 25, 1000));
      }
    }
  }

  /**
   * Where the server's expectation check cannot be trusted (replicated streams, see chain.ts),
   * confirms that the message at `seq` links to its predecessor as readers will require; otherwise
   * readers skip it, and the writer must hear that it lost the race. `linkedTo` undefined: read the
   * expectation the stored message carries (a duplicate may come from an earlier call).
   */
  private async confirmLink(subject: string, seq: number, linkedTo: number | undefined, expected: number): Promise<void> {
    if (!(await this.replicated())) return;
    let link = linkedTo;
    if (link === undefined) {
      const stored = await this.getMessage({ seq });
      link = stored ? fromGet(stored).expectedLast : undefined;
      if (link === undefined) return;
    }
    if (await linkHolds(this.lookup, subject, seq, link)) return;
    throw new ConcurrencyConflict(subject, expected, seq, { cause: new Error(`the server accepted the append at ${seq}, but another writer's message came first: readers ignore it`) });
  }

  /** Sequence of the message with this id on the subject, at or after `fromSequence`. */
  private async findById(subject: string, fromSequence: number, id: string): Promise<number | undefined> {
    let found: number | undefined;
    await this.scan(subject, fromSequence, (m) => {
      const decoded = this.codec.decode(m.data);
      if (found === undefined && decoded.ok && this.codec.idOf(decoded.value) === id) found = m.seq;
    });
    return found;
  }

  /** Stream sequence of the subject's last message, 0 if it has none. One round trip to the stream leader. */
  async lastSequence(subject: string): Promise<number> {
    this.checkSubject(subject, false);
    // STREAM.MSG.GET rather than DIRECT.GET: on a replicated stream a direct get may be answered by
    // a lagging follower, and this value is used to decide whether a cached state is current.
    return (await this.getMessage({ last_by_subj: subject }))?.seq ?? 0;
  }

  /**
   * Every message of `subject` from `fromSequence` up to the subject's last message at call time.
   * Malformed messages are reported and returned apart, never thrown and never dropped silently.
   */
  async read(subject: string, opts: ReadOptions = {}): Promise<ReadResult<M>> {
    const messages: StoredMessage<M>[] = [];
    const malformed: MalformedMessage[] = [];
    const lastSequence = await this.scan(subject, opts.fromSequence ?? 1, (m, valid) => {
      const stored = this.decode(m, valid);
      if ('error' in stored) {
        malformed.push(stored);
        this.report(stored, this.onMalformed);
      } else {
        messages.push(stored);
      }
    });
    return { messages, malformed, lastSequence };
  }

  /**
   * Folds the subject's messages into a state without keeping them in memory. With `from`, only the
   * messages after the snapshot's sequence are read.
   */
  async aggregate<S>(subject: string, opts: AggregateOptions<S, M>): Promise<AggregateResult<S>> {
    let state = opts.from ? opts.from.state : opts.initial;
    let applied = 0;
    const malformed: MalformedMessage[] = [];
    const fromSequence = opts.from ? opts.from.sequence + 1 : 1;
    const version = await this.scan(subject, fromSequence, (m, valid) => {
      const stored = this.decode(m, valid);
      if ('error' in stored) {
        malformed.push(stored);
        this.report(stored, this.onMalformed);
        return;
      }
      state = opts.evolve(state, stored);
      applied++;
    });
    return { state, version, applied, malformed };
  }

  /**
   * Delivers every message matching `filterSubject` (wildcards allowed) from `fromSequence` on, in
   * stream order, one at a time: an async handler is awaited before the next message is delivered.
   * Backed by an ordered consumer, which recreates itself from the last delivered sequence after a
   * reconnect, a server restart or a gap.
   */
  async subscribe(
    filterSubject: string,
    opts: SubscribeOptions,
    handler: (message: StoredMessage<M>) => void | Promise<void>,
    hooks: SubscribeHooks = {},
  ): Promise<Subscription> {
    this.checkSubject(filterSubject, true);
    const onMalformed = hooks.onMalformed ?? this.onMalformed;
    let next = Math.max(1, Math.floor(opts.fromSequence));
    // One chain for the whole subscription: what it learnt stays true across consumer restarts.
    const chain = new Chain(this.lookup, next === 1);
    let stopped = false;
    let current: { consumer: Consumer; messages: ConsumerMessages } | undefined;

    const open = async () => {
      const consumer = await this.retryTransient(() => this.js.consumers.get(this.names.stream, {
        filter_subjects: filterSubject,
        opt_start_seq: next,
      }));
      const messages = await consumer.consume({ max_messages: this.subscribeBatch });
      if (hooks.onStatus) void forwardStatus(messages, hooks.onStatus);
      current = { consumer, messages };
    };
    const close = () => {
      if (!current) return;
      current.messages.stop();
      // The ordered consumer is ephemeral and would linger until its inactivity threshold.
      current.consumer.delete().catch(() => undefined);
      current = undefined;
    };

    // The first consumer is created before returning, so a missing stream fails the call itself.
    await open();

    const run = async (): Promise<SubscriptionEnd> => {
      for (let restarts = 0; ; restarts++) {
        const live = current;
        if (live) {
          try {
            for await (const m of live.messages) {
              if (stopped) break;
              const raw = fromConsumer(m);
              const judged = chain.judge(raw);
              const stored = this.decode(raw, typeof judged === 'boolean' ? judged : await judged);
              if ('error' in stored) {
                this.report(stored, onMalformed);
              } else {
                try {
                  const pending = handler(stored);
                  // Only a promise is awaited: a microtask per message is measurable in a catch-up.
                  if (pending) await pending;
                } catch (error) {
                  return { reason: 'handler-failed', lastSequence: next - 1, error };
                }
              }
              next = m.seq + 1;
              restarts = 0;
            }
          } catch {
            // The iterator failed (e.g. the consumer could not be recreated 30 times in a row):
            // a fresh ordered consumer from `next` is the same recovery, one level up.
          } finally {
            close();
          }
        }
        if (stopped) return { reason: 'stopped', lastSequence: next - 1 };
        if (this.nc.isClosed()) return { reason: 'connection-closed', lastSequence: next - 1 };
        await sleep(jitteredDelay(restarts, 100, 5000));
        if (stopped) return { reason: 'stopped', lastSequence: next - 1 };
        try {
          await open();
        } catch {
          // Retried on the next turn of the loop, with a longer pause.
        }
      }
    };
    const done = run()
      .catch((error: unknown): SubscriptionEnd => ({ reason: 'failed', lastSequence: next - 1, error }))
      .finally(close);
    return {
      done,
      stop: () => {
        stopped = true;
        current?.messages.stop();
        return done;
      },
    };
  }

  /**
   * Streams the subject's messages from `fromSequence` to the subject's last message at call time.
   * Returns the subject's last sequence.
   *
   * The first few messages come from single gets (`next_by_subj`, ~0.5 ms each): a load from a
   * recent snapshot usually finds zero to two new messages, where an ordered consumer's set-up
   * (stream info, create, first pull: ~7 ms measured) would dominate. Longer replays continue through an
   * ordered consumer, one pull per `readBatch` messages (~10x the rate of single gets).
   */
  private async scan(subject: string, fromSequence: number, visit: (m: RawMessage, valid: boolean) => void): Promise<number> {
    this.checkSubject(subject, false);
    const target = await this.lastSequence(subject);
    let next = Math.max(1, Math.floor(fromSequence));
    if (target < next) return target;

    const chain = new Chain(this.lookup, next === 1);
    for (let gets = 0; gets < SINGLE_GETS_BEFORE_CONSUMER; gets++) {
      const m = await this.getMessage(nextBySubject(subject, next));
      // Nothing left: the target message vanished (a purge) since the lookup.
      if (!m) return target;
      const raw = fromGet(m);
      visit(raw, await chain.judge(raw));
      if (m.seq >= target) return m.seq;
      next = m.seq + 1;
    }
    return this.scanWithConsumer(subject, next, target, chain, visit);
  }

  private async scanWithConsumer(
    subject: string,
    start: number,
    target: number,
    chain: Chain,
    visit: (m: RawMessage, valid: boolean) => void,
  ): Promise<number> {
    const consumer = await this.retryTransient(() => this.js.consumers.get(this.names.stream, {
      filter_subjects: subject,
      opt_start_seq: start,
    }));
    let last = 0;
    try {
      if ((await consumer.info(true)).num_pending === 0) return target;
      const messages = await consumer.consume({ max_messages: this.readBatch });
      let seen = 0;
      let seenAtLastCheck = -1;
      // A replay that stops making progress (server gone for good) fails instead of hanging; a
      // ticker rather than a timer per message keeps the hot loop cheap.
      const watchdog = setInterval(() => {
        if (seen === seenAtLastCheck) messages.stop(new Error(`read of ${subject} made no progress for ${this.readIdleTimeoutMs} ms`));
        seenAtLastCheck = seen;
      }, this.readIdleTimeoutMs);
      try {
        for await (const m of messages) {
          seen++;
          const raw = fromConsumer(m);
          // The single gets before saw this subject, so the chain answers synchronously here.
          const judged = chain.judge(raw);
          visit(raw, typeof judged === 'boolean' ? judged : await judged);
          last = m.seq;
          // pending is what the consumer still has for this filter: 0 ends the replay even if the
          // target message vanished (a purge) in between.
          if (m.seq >= target || m.info.pending === 0) break;
        }
      } finally {
        clearInterval(watchdog);
        messages.stop();
      }
    } finally {
      // The ordered consumer is ephemeral; deleting it now beats leaving it for its inactivity timer.
      consumer.delete().catch(() => undefined);
    }
    return Math.max(last, target);
  }

  private decode(m: RawMessage, valid: boolean): StoredMessage<M> | MalformedMessage {
    if (!valid) return { sequence: m.seq, subject: m.subject, error: { kind: STALE_APPEND, message: staleAppendMessage(m) }, raw: m.data };
    const decoded = this.codec.decode(m.data);
    if (decoded.ok) return { sequence: m.seq, subject: m.subject, time: m.time, message: decoded.value };
    return { sequence: m.seq, subject: m.subject, error: decoded.error, raw: m.data };
  }

  private report(malformed: MalformedMessage, reporter: MalformedHandler): void {
    try {
      reporter(malformed);
    } catch (err) {
      // A failing reporter must not stop a replay; the message is still in the result.
      console.warn(`[event-store] malformed-message reporter failed: ${errorText(err)}`);
    }
  }

  /** STREAM.MSG.GET (answered by the stream leader), null when there is no such message. */
  private async getMessage(query: MsgRequest): Promise<StoredMsg | null> {
    const jsm = await this.manager();
    return this.retryTransient(() => jsm.streams.getMessage(this.names.stream, query));
  }

  private replicated(): Promise<boolean> {
    if (this.verifyAppends !== 'auto') return Promise.resolve(this.verifyAppends);
    this.replicatedStream ??= this.manager()
      .then((jsm) => this.retryTransient(() => jsm.streams.info(this.names.stream)))
      .then((info) => info.config.num_replicas > 1)
      .catch(() => {
        // Unknown: verify this time (the safe side) and ask again next time.
        this.replicatedStream = undefined;
        return true;
      });
    return this.replicatedStream;
  }

  private manager(): Promise<JetStreamManager> {
    this.jsm ??= this.js.jetstreamManager(false);
    return this.jsm;
  }

  private async retryTransient<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.gate.ready(this.publishTimeoutMs);
        return await fn();
      } catch (err) {
        if (!isTransient(err) || attempt >= this.transientAttempts) throw err;
        await sleep(jitteredDelay(attempt, 25, 1000));
      }
    }
  }

  /** Refuses subjects outside this store's prefix: they would land in another stream, or nowhere. */
  private checkSubject(subject: string, wildcardsAllowed: boolean): void {
    if (!subject.startsWith(`${this.names.prefix}.`)) {
      throw new RangeError(`subject ${subject} is outside the event stream ${this.names.stream} (${this.names.prefix}.>)`);
    }
    if (!wildcardsAllowed && /(^|\.)(\*|>)(\.|$)/.test(subject)) {
      throw new RangeError(`subject ${subject} must be literal: one subject is one aggregate`);
    }
  }
}

// STREAM.MSG.GET accepts next_by_subj since server 2.9, but the client's MsgRequest type only lists
// seq and last_by_subj; the request body is passed through as is.
function nextBySubject(subject: string, seq: number): MsgRequest {
  return { seq, next_by_subj: subject } as unknown as MsgRequest;
}

async function forwardStatus(messages: ConsumerMessages, onStatus: (s: ConsumerNotification) => void): Promise<void> {
  try {
    for await (const status of messages.status()) {
      try {
        onStatus(status);
      } catch {
        // Observability must never break delivery.
      }
    }
  } catch {
    // The status iterator ends with the messages iterator.
  }
}
