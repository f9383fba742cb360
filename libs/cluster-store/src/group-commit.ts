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
  admission?: Admission;
  /** Detaches the abort listener once the request left the queue. */
  release?: () => void;
}

/** How a request waits in the queue. */
export interface Admission {
  /**
   * Aborted when the request's deadline passed: a request still queued then is withdrawn (its
   * promise rejects with the signal's reason) and never decided. Once taken into a batch it is
   * offered to the store and gets its real outcome.
   */
  signal?: AbortSignal;
  /** Called when the request is taken into a batch (from then on it cannot be withdrawn). */
  onStart?: () => void;
}

/** Refusal of a request because the queue is full: the caller answers "retry later". */
export class CommitQueueFull extends Error {
  override readonly name = 'CommitQueueFull';
  constructor(readonly limit: number) {
    super(`group commit queue full (${limit} requests waiting): retry later`);
  }
}

/** Requests that may wait for the append in flight before new ones are refused. */
export const DEFAULT_MAX_QUEUED = 10_000;

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

  /**
   * `view`: a view, or where to find the one in use (a supervisor replaces views). `maxQueued`
   * bounds the requests waiting behind the append in flight (memory, and answers that would
   * come too late anyway).
   */
  constructor(view: LiveClusterView | (() => LiveClusterView), private readonly maxQueued = DEFAULT_MAX_QUEUED) {
    this.viewInUse = typeof view === 'function' ? view : () => view;
  }

  /** Requests waiting for a batch (not those in flight). */
  get queued(): number {
    return this.queue.length;
  }

  submit(command: Command, meta: ExecuteMeta, admission?: Admission): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      const signal = admission?.signal;
      if (signal?.aborted) return reject(signal.reason);
      if (this.queue.length >= this.maxQueued) return reject(new CommitQueueFull(this.maxQueued));
      const pending: Pending = { command, meta, resolve, reject, admission };
      if (signal) {
        const withdraw = () => {
          const at = this.queue.indexOf(pending);
          if (at < 0) return; // already in a batch: it gets its real outcome
          this.queue.splice(at, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', withdraw, { once: true });
        pending.release = () => signal.removeEventListener('abort', withdraw);
      }
      this.queue.push(pending);
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) await this.run(this.started(this.takeBatch()));
    } finally {
      this.running = false;
    }
  }

  /** The batch leaves the queue: its requests can no longer be withdrawn. */
  private started(batch: Pending[]): Pending[] {
    for (const p of batch) {
      p.release?.();
      p.admission?.onStart?.();
    }
    return batch;
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
