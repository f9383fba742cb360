import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { KV, Kvm } from '@nats-io/kv';
import { StreamNames, subjects } from '#contracts';

/** Where snapshot texts are kept, by key (`<cluster>.<scope>`): a text, whole or not at all. */
export interface SnapshotBlobs {
  read(key: string): Promise<string | undefined>;
  write(key: string, text: string): Promise<void>;
}

/** Below nats-server's default max_payload (1 MiB): a snapshot of 10^5 records is ~10 MB. */
const PART_BYTES = 512 * 1024;

interface Head {
  id: string;
  parts: number;
  bytes: number;
}

/**
 * Snapshot texts in a JetStream KV bucket (`subjects.snapshotBucket`, history 1), in parts under
 * a fresh id, then a `head` key naming the id: a reader sees the previous snapshot or the new one,
 * never a mix (a reader racing the clean-up of old parts finds a part missing, and the caller
 * falls back to a full replay). Parts of the previous snapshot are purged after the head moves.
 */
export class KvSnapshotBlobs implements SnapshotBlobs {
  private constructor(private readonly kv: KV) {}

  /** Opens the bucket, creating it when `create` (services provision it with the event stream). */
  static async open(nc: NatsConnection, names: StreamNames, options: { create: boolean; replicas?: number }): Promise<KvSnapshotBlobs> {
    const kvm = new Kvm(nc);
    const bucket = subjects.snapshotBucket(names);
    const kv = options.create ? await kvm.create(bucket, { history: 1, replicas: options.replicas ?? 1 }) : await kvm.open(bucket);
    return new KvSnapshotBlobs(kv);
  }

  async read(key: string): Promise<string | undefined> {
    const head = parseHead(await this.value(`${key}.head`));
    if (!head) return undefined;
    const chunks: Buffer[] = [];
    for (let i = 0; i < head.parts; i++) {
      const part = await this.value(`${key}.${head.id}.${i}`);
      if (part === undefined) return undefined;
      chunks.push(Buffer.from(part));
    }
    const all = Buffer.concat(chunks);
    return all.length === head.bytes ? all.toString('utf8') : undefined;
  }

  async write(key: string, text: string): Promise<void> {
    const previous = parseHead(await this.value(`${key}.head`));
    const bytes = Buffer.from(text, 'utf8');
    const head: Head = { id: randomUUID().replace(/-/g, ''), parts: Math.max(1, Math.ceil(bytes.length / PART_BYTES)), bytes: bytes.length };
    for (let i = 0; i < head.parts; i++) await this.kv.put(`${key}.${head.id}.${i}`, bytes.subarray(i * PART_BYTES, (i + 1) * PART_BYTES));
    await this.kv.put(`${key}.head`, JSON.stringify(head));
    if (previous && previous.id !== head.id) {
      for (let i = 0; i < previous.parts; i++) await this.kv.purge(`${key}.${previous.id}.${i}`).catch(() => undefined);
    }
  }

  private async value(key: string): Promise<Uint8Array | undefined> {
    const entry = await this.kv.get(key);
    return entry && entry.operation === 'PUT' ? entry.value : undefined;
  }
}

function parseHead(raw: Uint8Array | undefined): Head | undefined {
  if (!raw) return undefined;
  try {
    const h = JSON.parse(Buffer.from(raw).toString('utf8')) as Head;
    return typeof h.id === 'string' && /^[0-9a-f]{32}$/.test(h.id) && Number.isSafeInteger(h.parts) && h.parts > 0 && Number.isSafeInteger(h.bytes) ? h : undefined;
  } catch {
    return undefined;
  }
}

/** Snapshot texts in memory: for unit tests and the in-memory cluster. */
export class MemorySnapshotBlobs implements SnapshotBlobs {
  readonly texts = new Map<string, string>();
  read(key: string): Promise<string | undefined> {
    return Promise.resolve(this.texts.get(key));
  }
  write(key: string, text: string): Promise<void> {
    this.texts.set(key, text);
    return Promise.resolve();
  }
}
