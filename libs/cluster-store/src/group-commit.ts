import { Command, Rejection, Reply } from '#domain';
import type { ExecuteMeta } from './execute';
import type { LiveClusterView } from './live-view';

type Batchable = Extract<Command, { type: 'create' | 'removeClients' | 'reclaim' | 'reclaimComplete' }>;
type Item = Batchable['clients'][number];

export type Answer =
  | { ok: true; reply: Reply; sequence: number | null }
  | { ok: false; rejection: Rejection };

interface Pending {
  command: Command;
  meta: ExecuteMeta;
  resolve: (answer: Answer) => void;
  reject: (error: unknown) => void;
}

/** One message must stay well under NATS' 1 MiB max_payload even with 1024-byte client ids. */
const MAX_BATCH_BYTES = 256 * 1024;

/**
 * Group commit: requests that arrive while an append is in flight wait and go out together as
 * one decision, one message, one expected-sequence check. Consecutive requests of the same kind
 * for the same node merge (order between kinds is kept: a create is stored before a reclaim that
 * came after it); the merged decision's answer is split back per request.
 */
export class GroupCommitter {
  private queue: Pending[] = [];
  private running = false;
  batches = 0;
  batchedRequests = 0;

  constructor(private readonly view: LiveClusterView) {}

  submit(command: Command, meta: ExecuteMeta): Promise<Answer> {
    return new Promise((resolve, reject) => {
      this.queue.push({ command, meta, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.takeBatch();
        await this.run(batch);
      }
    } finally {
      this.running = false;
    }
  }

  private takeBatch(): Pending[] {
    const head = this.queue[0];
    if (!isBatchable(head.command)) return this.queue.splice(0, 1);
    let bytes = 0;
    let n = 0;
    for (const p of this.queue) {
      const c = p.command;
      if (!isBatchable(c) || c.type !== head.command.type || c.node !== (head.command as Batchable).node) break;
      bytes += c.clients.reduce((sum: number, x: Item) => sum + (typeof x === 'string' ? x.length : x.client.length + 80), 0);
      if (n > 0 && bytes > MAX_BATCH_BYTES) break;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async run(batch: Pending[]): Promise<void> {
    const first = batch[0];
    if (batch.length === 1 || !isBatchable(first.command)) {
      await this.view.execute(first.command, first.meta).then(
        (r) => first.resolve(r.ok ? { ok: true, reply: r.decision.reply, sequence: r.sequence } : r),
        first.reject,
      );
      return;
    }
    const head = first.command as Batchable;
    const clients = batch.flatMap((p) => (p.command as Batchable).clients as Item[]);
    const merged = { ...head, clients } as Command;
    const meta: ExecuteMeta = { ...first.meta, causation: batch.length === 1 ? first.meta.causation : undefined };
    this.batches++;
    this.batchedRequests += batch.length;
    try {
      const r = await this.view.execute(merged, meta);
      let offset = 0;
      for (const p of batch) {
        const count = (p.command as Batchable).clients.length;
        if (!r.ok) p.resolve(r);
        else p.resolve({ ok: true, reply: slice(r.decision.reply, offset, count), sequence: r.sequence });
        offset += count;
      }
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }
}

function isBatchable(c: Command): c is Batchable {
  return c.type === 'create' || c.type === 'removeClients' || c.type === 'reclaim' || c.type === 'reclaimComplete';
}

function slice(reply: Reply, offset: number, count: number): Reply {
  if (reply.kind === 'reclaim') return { kind: 'reclaim', statuses: reply.statuses.slice(offset, offset + count) };
  if (reply.kind === 'reclaimComplete') return { kind: 'reclaimComplete', statuses: reply.statuses.slice(offset, offset + count) };
  return reply;
}
