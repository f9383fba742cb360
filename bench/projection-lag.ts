/**
 * PostgreSQL projection lag under the storm (SPEC §5, p99 ≤ 1 s): for every message appended to
 * the stream while the storm runs, the time from its append (the server's timestamp) until the
 * client-registry's checkpoint covers it (the checkpoint row is written in the same transaction as
 * the read-model change, so checkpoint ≥ s means s's rows are visible). The checkpoint is polled
 * every 10 ms straight from the registry's database, so each figure is at most ~10 ms high.
 */
import { Client } from 'pg';
import { subjects } from '#contracts';
import type { Subscription } from '#event-store';
import { BenchResult, failed, percentile, result } from './report';
import { streamLastSequence, type BenchContext, type BenchSystem } from './harness';

const POLL_MS = 10;
const CONTROL_SCHEMA = 'gk_registry';

export class LagSampler {
  /** Append time (ms since epoch, server clock) of each stream sequence seen during sampling. */
  private readonly appended = new Map<number, number>();
  private readonly lags: number[] = [];
  private pendingFrom = 0;
  private pending: number[] = [];
  private timer?: NodeJS.Timeout;
  private subscription?: Subscription;
  private schema?: string;
  private polling = false;
  private stopped = false;
  checkpoint = 0;

  private constructor(private readonly bench: BenchSystem, private readonly db: Client) {}

  static async open(bench: BenchSystem, _ctx: BenchContext): Promise<LagSampler> {
    if (!bench.databaseUrl) throw new Error('projection lag needs the client-registry');
    const db = new Client({ connectionString: bench.databaseUrl });
    db.on('error', () => undefined);
    await db.connect();
    return new LagSampler(bench, db);
  }

  /** The registry's checkpoint now (0 until its read model exists). */
  async readCheckpoint(): Promise<number> {
    try {
      this.schema ??= await this.liveSchema();
      if (!this.schema) return 0;
      const r = await this.db.query<{ sequence: string }>(`select sequence from "${this.schema.replace(/"/g, '""')}".checkpoint`);
      return Number(r.rows[0]?.sequence ?? 0);
    } catch {
      this.schema = undefined; // swapped generation or not created yet: look it up again
      return 0;
    }
  }

  private async liveSchema(): Promise<string | undefined> {
    const r = await this.db.query<{ schema: string }>(`select schema from ${CONTROL_SCHEMA}.read_models order by swapped_at desc limit 1`);
    return r.rows[0]?.schema;
  }

  /** Resolves once the checkpoint reaches `sequence`; rejects after `timeoutMs`. */
  async waitForCatchUp(sequence: number, timeoutMs: number, onProgress?: (target: number, at: number) => void): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = await this.readCheckpoint();
      this.observe(at);
      if (at >= sequence) return;
      onProgress?.(sequence, at);
      if (Date.now() > deadline) throw new Error(`client-registry checkpoint at ${at}, stream at ${sequence} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Starts recording appends (from now on) and polling the checkpoint. */
  start(): void {
    const store = this.bench.opened.store;
    void (async () => {
      const from = (await streamLastSequence(this.bench)) + 1;
      this.pendingFrom = from;
      this.subscription = await store.subscribe(subjects.all(this.bench.names), { fromSequence: from }, (m) => {
        this.appended.set(m.sequence, m.time.getTime());
        this.pending.push(m.sequence);
      }, { onMalformed: (m) => { this.appended.set(m.sequence, Date.now()); this.pending.push(m.sequence); } });
    })();
    this.timer = setInterval(() => {
      if (this.polling) return;
      this.polling = true;
      void this.readCheckpoint().then((c) => this.observe(c)).finally(() => (this.polling = false));
    }, POLL_MS);
  }

  private observe(checkpoint: number): void {
    this.checkpoint = Math.max(this.checkpoint, checkpoint);
    if (this.pendingFrom === 0) return;
    const now = Date.now();
    let kept = 0;
    for (const seq of this.pending) {
      if (seq <= this.checkpoint) this.lags.push(Math.max(0, now - this.appended.get(seq)!));
      else this.pending[kept++] = seq;
    }
    this.pending.length = kept;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    void this.subscription?.stop();
    this.subscription = undefined;
    void this.db.end().catch(() => undefined);
  }

  /** Lags in ms of every message the registry caught up with, ascending. */
  samples(): number[] {
    return [...this.lags].sort((a, b) => a - b);
  }

  /** Messages seen but never projected while sampling. */
  get unprojected(): number {
    return this.pending.length;
  }
}

export function lagResults(sampler: LagSampler | undefined, size: string, error?: string): BenchResult[] {
  const name = `PostgreSQL projection lag p99 during the storm (${size})`;
  if (!sampler) return [failed(name, 'ms', '<=', 1000, `failed: ${error ?? 'no sampler'}`)];
  const lags = sampler.samples();
  if (lags.length === 0) return [failed(name, 'ms', '<=', 1000, 'no stream messages were projected while sampling')];
  const note = `${lags.length} messages; append time → checkpoint covers it, polled every ${POLL_MS} ms; p50 ${percentile(lags, 50)} ms, max ${lags[lags.length - 1]} ms` +
    (sampler.unprojected ? `; ${sampler.unprojected} never projected` : '');
  return [result(name, percentile(lags, 99), 'ms', '<=', 1000, { note })];
}
