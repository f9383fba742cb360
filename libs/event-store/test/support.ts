import { randomUUID } from 'node:crypto';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { StreamNames } from '#contracts';
import { cleanupStream, testNatsUrl, testStreamNames } from '#testing';
import type { MessageCodec, StoredMessage } from '../src';

/** The test's message: one counter increment, carrying the count it was decided on. */
export interface Increment {
  id: string;
  type: 'Incremented';
  by: number;
  /** The count the decision saw: a serial replay must find exactly this count before it. */
  before: number;
  writer: string;
  n: number;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A tiny JSON codec that validates on read, as the real event codec does. */
export const incrementCodec: MessageCodec<Increment> = {
  encode: (m) => utf8.encode(JSON.stringify(m)),
  decode(data) {
    let value: unknown;
    try {
      value = JSON.parse(fromUtf8.decode(data));
    } catch (err) {
      return { ok: false, error: { kind: 'json', message: (err as Error).message } };
    }
    const v = value as Partial<Increment> | null;
    if (!v || typeof v !== 'object' || v.type !== 'Incremented' || typeof v.id !== 'string'
      || typeof v.by !== 'number' || typeof v.before !== 'number' || typeof v.writer !== 'string' || typeof v.n !== 'number') {
      return { ok: false, error: { kind: 'schema', message: 'not an Incremented message' } };
    }
    return { ok: true, value: v as Increment };
  },
  idOf: (m) => m.id,
};

export function increment(before: number, writer = 'w', n = 0, by = 1): Increment {
  return { id: randomUUID(), type: 'Incremented', by, before, writer, n };
}

export interface Counter {
  count: number;
  /** Increments whose `before` disagreed with the replayed count: decisions taken on a stale state. */
  stale: number;
}

export const emptyCounter: Counter = { count: 0, stale: 0 };

export function evolveCounter(state: Counter, m: StoredMessage<Increment>): Counter {
  return { count: state.count + m.message.by, stale: state.stale + (m.message.before === state.count ? 0 : 1) };
}

/** One connection plus a stream prefix of the test's own, deleted by `close`. */
export interface TestNats {
  nc: NatsConnection;
  jsm: JetStreamManager;
  names: StreamNames;
  url: string;
  close(): Promise<void>;
}

export async function openTestNats(label: string): Promise<TestNats> {
  const url = testNatsUrl();
  const nc = await connect({ servers: url, name: `event-store test ${label}` });
  const jsm = await jetstreamManager(nc);
  const names = testStreamNames(`es_${label}`);
  return {
    nc,
    jsm,
    names,
    url,
    async close() {
      try {
        await cleanupStream(nc, names);
      } finally {
        await nc.close();
      }
    },
  };
}

/** Resolves when `predicate` holds, polling; fails after `timeoutMs` with `what`. */
export async function eventually(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
