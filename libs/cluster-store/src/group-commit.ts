import { Command, Reply } from '#domain';
import type { CommandResult, ExecuteMeta } from './execute';
import type { LiveClusterView } from './live-view';

type Batchable = Extract<Command, { type: 'create' | 'removeClients' | 'reclaim' | 'reclaimComplete' }>;
type Kind = Batchable['type'];
type Item = Batchable['clients'][number];

interface Pending {
  command: Command;
  meta: ExecuteMeta;
  resolve: (result: CommandResult) => void;
  reject: (error: unknown) => void;
}

/** One message must stay well under NATS' 1 MiB max_payload even with 1024-byte client ids. */
const MAX_BATCH_BYTES = 256 * 1024;
const KINDS: Kind[] = ['create', 'removeClients', 'reclaim', 'reclaimComplete'];

/**
 * Group commit: requests that arrive while an append is in flight wait and go out together as
 * one decision, one message, one expected-sequence check. The requests of a batch may be of
 * every kind (a v4.1 client's reclaim followed by its RECLAIM_COMPLETE interleaves with others'),
 * and are merged per kind and decided on the same state. That is only right while they do not
 * depend on each other, so a batch ends before a client that already appears in it under another
 * kind: its later request then sees the earlier one's effect, in order.
 */
export class GroupCommitter {
  private queue: Pending[] = [];
  private running = false;
  batches = 0;
  batchedRequests = 0;

  private readonly viewInUse: () => LiveClusterView;

  /** `view`: a view, or where to find the one in use (a supervisor replaces views). */
  constructor(view: LiveClusterView | (() => LiveClusterView)) {
    this.viewInUse = typeof view === 'function' ? view : () => view;
  }

  submit(command: Command, meta: ExecuteMeta): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ command, meta, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) await this.run(this.takeBatch());
    } finally {
      this.running = false;
    }
  }

  private takeBatch(): Pending[] {
    const head = this.queue[0];
    if (!isBatchable(head.command)) return this.queue.splice(0, 1);
    const node = head.command.node;
    const kindOf = new Map<string, Kind>();
    let bytes = 0;
    let n = 0;
    for (const p of this.queue) {
      const c = p.command;
      if (!isBatchable(c) || c.node !== node) break;
      const ids = c.clients.map(clientOf);
      if (ids.some((id) => (kindOf.get(id) ?? c.type) !== c.type)) break;
      bytes += ids.reduce((sum, id) => sum + id.length + 80, 0);
      if (n > 0 && bytes > MAX_BATCH_BYTES) break;
      for (const id of ids) kindOf.set(id, c.type);
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async run(batch: Pending[]): Promise<void> {
    const first = batch[0];
    if (!isBatchable(first.command)) {
      await this.viewInUse().execute(first.command, first.meta).then(first.resolve, first.reject);
      return;
    }
    // One merged command per kind; each request remembers where its clients sit in it.
    const groups = KINDS.map((kind) => ({ kind, members: batch.filter((p) => p.command.type === kind) })).filter((g) => g.members.length);
    const commands = groups.map((g) => ({ ...(g.members[0].command as Batchable), clients: g.members.flatMap((p) => (p.command as Batchable).clients as Item[]) }) as Command);
    const meta: ExecuteMeta = { ...first.meta, causation: batch.length === 1 ? first.meta.causation : undefined };
    this.batches++;
    this.batchedRequests += batch.length;
    try {
      const results = await this.viewInUse().executeMany(commands, meta);
      groups.forEach((g, i) => {
        const r = results[i];
        let offset = 0;
        for (const p of g.members) {
          const count = (p.command as Batchable).clients.length;
          p.resolve(r.ok ? { ...r, reply: slice(r.reply, offset, count) } : r);
          offset += count;
        }
      });
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }
}

function isBatchable(c: Command): c is Batchable {
  return c.type === 'create' || c.type === 'removeClients' || c.type === 'reclaim' || c.type === 'reclaimComplete';
}

const clientOf = (x: Item): string => (typeof x === 'string' ? x : x.client);

function slice(reply: Reply, offset: number, count: number): Reply {
  if (reply.kind === 'reclaim') return { kind: 'reclaim', statuses: reply.statuses.slice(offset, offset + count) };
  if (reply.kind === 'reclaimComplete') return { kind: 'reclaimComplete', statuses: reply.statuses.slice(offset, offset + count) };
  return reply;
}
