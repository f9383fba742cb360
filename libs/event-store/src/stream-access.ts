import { jetstream, type JetStreamClient, type JetStreamManager, type MsgRequest, type StoredMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { StreamNames } from '#contracts';
import { setTimeout as sleep } from 'node:timers/promises';
import { jitteredDelay } from './backoff';
import { noLinkedSubjects, STALE_APPEND, staleAppendMessage, type LinkedSubjects, type LinkLookup, type RawMessage } from './chain';
import { ConnectionGate } from './connection-gate';
import { errorText, isTransient } from './errors';
import type { MalformedHandler, MalformedMessage, MessageCodec, StoredMessage } from './types';

export interface StreamAccessOptions<M> {
  nc: NatsConnection;
  names: StreamNames;
  codec: MessageCodec<M>;
  onMalformed: MalformedHandler;
  publishTimeoutMs: number;
  transientAttempts: number;
  /** Subjects whose every message must carry the expectation (see chain.ts); default none. */
  linkedSubjects?: LinkedSubjects;
}

/**
 * What the append, replay and subscription parts of the JetStream store share: the client, the
 * connection gate, single-message lookups with transient retries, subject checks and decoding.
 */
export class StreamAccess<M> {
  readonly nc: NatsConnection;
  readonly names: StreamNames;
  readonly js: JetStreamClient;
  readonly codec: MessageCodec<M>;
  readonly onMalformed: MalformedHandler;
  readonly publishTimeoutMs: number;
  readonly transientAttempts: number;
  readonly gate: ConnectionGate;
  readonly lookup: LinkLookup;
  readonly linkedSubjects: LinkedSubjects;
  private jsm?: Promise<JetStreamManager>;

  constructor(opts: StreamAccessOptions<M>) {
    this.nc = opts.nc;
    this.names = opts.names;
    this.codec = opts.codec;
    this.onMalformed = opts.onMalformed;
    this.publishTimeoutMs = opts.publishTimeoutMs;
    this.transientAttempts = opts.transientAttempts;
    this.linkedSubjects = opts.linkedSubjects ?? noLinkedSubjects;
    this.js = jetstream(this.nc, { timeout: this.publishTimeoutMs });
    this.gate = new ConnectionGate(this.nc);
    this.lookup = {
      subjectAt: async (seq) => (await this.getMessage({ seq }))?.subject,
      nextOf: async (subject, seq) => (await this.getMessage(nextBySubject(subject, seq)))?.seq,
    };
  }

  /** Stream sequence of the subject's last message, 0 if it has none. One round trip to the stream leader. */
  async lastSequence(subject: string): Promise<number> {
    this.checkSubject(subject, false);
    // STREAM.MSG.GET rather than DIRECT.GET: on a replicated stream a direct get may be answered by
    // a lagging follower, and this value is used to decide whether a cached state is current.
    return (await this.getMessage({ last_by_subj: subject }))?.seq ?? 0;
  }

  /** STREAM.MSG.GET (answered by the stream leader), null when there is no such message. */
  async getMessage(query: MsgRequest): Promise<StoredMsg | null> {
    const jsm = await this.manager();
    return this.retryTransient(() => jsm.streams.getMessage(this.names.stream, query));
  }

  manager(): Promise<JetStreamManager> {
    this.jsm ??= this.js.jetstreamManager(false);
    return this.jsm;
  }

  async retryTransient<T>(fn: () => Promise<T>): Promise<T> {
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
  checkSubject(subject: string, wildcardsAllowed: boolean): void {
    if (!subject.startsWith(`${this.names.prefix}.`)) {
      throw new RangeError(`subject ${subject} is outside the event stream ${this.names.stream} (${this.names.prefix}.>)`);
    }
    if (!wildcardsAllowed && /(^|\.)(\*|>)(\.|$)/.test(subject)) {
      throw new RangeError(`subject ${subject} must be literal: one subject is one aggregate`);
    }
  }

  /** A stored message, or why it is not one (`valid` false: a stale append the chain rejected). */
  decode(m: RawMessage, valid: boolean): StoredMessage<M> | MalformedMessage {
    if (!valid) return { sequence: m.seq, subject: m.subject, error: { kind: STALE_APPEND, message: staleAppendMessage(m) }, raw: m.data };
    const decoded = this.codec.decode(m.data);
    if (decoded.ok) return { sequence: m.seq, subject: m.subject, time: m.time, message: decoded.value };
    return { sequence: m.seq, subject: m.subject, error: decoded.error, raw: m.data };
  }

  report(malformed: MalformedMessage, reporter: MalformedHandler = this.onMalformed): void {
    reportMalformed(malformed, reporter);
  }
}

/** Calls the reporter; a failing reporter must not stop a replay (the message is still in the result). */
export function reportMalformed(malformed: MalformedMessage, reporter: MalformedHandler): void {
  try {
    reporter(malformed);
  } catch (err) {
    console.warn(`[event-store] malformed-message reporter failed: ${errorText(err)}`);
  }
}

export const defaultMalformedReporter: MalformedHandler = (m) => {
  console.warn(`[event-store] malformed message seq=${m.sequence} subject=${m.subject}: ${m.error.kind}: ${m.error.message}`);
};

// STREAM.MSG.GET accepts next_by_subj since server 2.9, but the client's MsgRequest type only lists
// seq and last_by_subj; the request body is passed through as is.
export function nextBySubject(subject: string, seq: number): MsgRequest {
  return { seq, next_by_subj: subject } as unknown as MsgRequest;
}

/**
 * What a bounded read (replay) pulls at once: up to PULL_MAX_BYTES, whatever the count (nats.js
 * takes a count or a byte bound, not both). Decisions can be large (group commit, the bench's
 * 1,000-event history decisions: ~200 KB): 4,096 of them asked at once is ~800 MB, which nats-server
 * queues for the client and then drops it as a slow consumer once 64 MiB are pending ("Slow
 * Consumer Detected: MaxPending of 67108864"), and the read stalls (bench start, 10,000,000 events).
 * The bound is above nats-server's largest sensible max_payload, so one message always fits a pull.
 */
export const PULL_MAX_BYTES = 16 * 1024 * 1024;

export function pullOptions(): { max_bytes: number } {
  return { max_bytes: PULL_MAX_BYTES };
}

/**
 * What a live subscription pulls at once. Counted in messages (the ordered consumer's resume after
 * a server restart needs it: tried with a byte bound, the subscription did not resume), and few
 * enough that even messages of max_payload (1 MiB) stay under nats-server's 64 MiB pending bound.
 */
export const SUBSCRIBE_PULL_MESSAGES = 32;
