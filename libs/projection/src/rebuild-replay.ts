import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Client } from 'pg';
import { applyMalformed, applyMessage, ChangeSet, type ProjectionModel } from './model';
import type { RebuildOptions, RebuildProgress } from './rebuild';
import type { ReplayWorkerInput, ReplayWorkerMessage } from './replay-worker';
import { projectedSubjects } from './stream';
import { appendLog } from './writer';

type Progress = (phase: RebuildProgress['phase']) => void;

/** How often, at most, the replay reports progress. */
const PROGRESS_EVERY_MS = 200;

/**
 * Phase 1 of a rebuild: every message up to `target` into the model, with the append-only audit
 * rows copied out as they come. Compiled code with a NATS URL reads and decodes in a worker
 * thread; tests (TypeScript) read in this thread. Both paths write through one `ChunkedLogWriter`.
 */
export async function replayInto(model: ProjectionModel, target: number, schema: string, options: RebuildOptions, progress: Progress): Promise<void> {
  if (target === 0) return;
  const workerFile = join(__dirname, 'replay-worker.js');
  if (options.natsUrl && __filename.endsWith('.js') && existsSync(workerFile) && process.env.GK_REPLAY_WORKER !== '0') {
    return replayWithWorker(model, target, schema, options, progress, workerFile);
  }
  return replayInThread(model, target, schema, options, progress);
}

/**
 * The audit log of a replay, copied out in chunks of `chunkRows` rows with one COPY in flight
 * while the next chunk fills. Per-client rows are not tracked: they are written once at the end
 * from the model. A failed COPY surfaces at the next `afterApply` (or at `finish`).
 */
class ChunkedLogWriter {
  changes: ChangeSet;
  /** Audit lines a reader thread already rendered (they need no state). */
  rendered: string[] = [];
  private writing: Promise<void> = Promise.resolve();
  private failed: unknown;
  private lastProgress = 0;

  constructor(
    private readonly client: Client,
    private readonly schema: string,
    private readonly chunkRows: number,
    private readonly newChanges: () => ChangeSet,
    private readonly progress: Progress,
  ) {
    this.changes = newChanges();
  }

  /** After each applied message or batch: writes a full chunk out, and reports progress now and then. */
  async afterApply(): Promise<void> {
    if (this.rendered.length + this.changes.audit.length + this.changes.malformedRows.length >= this.chunkRows) await this.writeOut();
    if (this.failed) throw this.failed;
    const now = performance.now();
    if (now - this.lastProgress > PROGRESS_EVERY_MS) {
      this.lastProgress = now;
      this.progress('replaying');
    }
  }

  /** Writes what is left and waits for every COPY. */
  async finish(): Promise<void> {
    await this.writeOut();
    await this.writing;
    if (this.failed) throw this.failed;
    this.progress('replaying');
  }

  private async writeOut(): Promise<void> {
    const batch = this.changes;
    const lines = this.rendered;
    this.changes = this.newChanges();
    this.rendered = [];
    await this.writing;
    this.writing = appendLog(this.client, this.schema, batch.audit, batch.malformedRows, lines).catch((err: unknown) => {
      this.failed = err;
    });
  }
}

async function replayInThread(model: ProjectionModel, target: number, schema: string, options: RebuildOptions, progress: Progress): Promise<void> {
  const log = new ChunkedLogWriter(options.client, schema, options.chunkRows ?? 20_000, () => new ChangeSet({ trackRows: false }), progress);
  let reached!: () => void;
  const done = new Promise<void>((resolve) => { reached = resolve; });
  const sub = await options.store.subscribe(projectedSubjects(options.names), { fromSequence: 1 }, async (stored) => {
    if (stored.sequence > target) return;
    applyMessage(model, options.names, stored, log.changes);
    await log.afterApply();
    if (stored.sequence >= target) reached();
  }, {
    onMalformed: (m) => {
      if (m.sequence > target) return;
      applyMalformed(model, m, log.changes);
      options.onMalformed?.(m);
      // The malformed handler cannot be awaited: the next message's handler writes out.
      if (m.sequence >= target) reached();
    },
  });
  const ended = sub.done.then((end) => {
    if (end.reason !== 'stopped') throw new Error(`replay stopped early at sequence ${end.lastSequence}: ${end.reason}${'error' in end ? `: ${String(end.error)}` : ''}`);
  });
  ended.catch(() => undefined);
  try {
    await Promise.race([done, ended]);
  } finally {
    await sub.stop();
  }
  await log.finish();
}

/**
 * Phase 1 with a reader thread: the worker reads, decodes, validates and renders the stateless
 * audit rows; this thread applies the messages in order, renders the audit rows that need the
 * state, and copies everything out. Batches are acknowledged, so the worker stays at most a few
 * batches ahead.
 */
async function replayWithWorker(model: ProjectionModel, target: number, schema: string, options: RebuildOptions, progress: Progress, workerFile: string): Promise<void> {
  const input: ReplayWorkerInput = { natsUrl: options.natsUrl!, names: options.names, target, batchMessages: 256, maxBatchesInFlight: 8 };
  const worker = new Worker(workerFile, { workerData: input });
  const log = new ChunkedLogWriter(options.client, schema, options.chunkRows ?? 20_000, () => new ChangeSet({ trackRows: false, modelAuditOnly: true }), progress);
  try {
    await new Promise<void>((resolve, reject) => {
      let chain = Promise.resolve();
      worker.on('error', reject);
      worker.on('exit', (code) => reject(new Error(`the replay reader thread exited (${code})`)));
      worker.on('message', (msg: ReplayWorkerMessage) => {
        chain = chain.then(async () => {
          if (msg.kind === 'error') throw new Error(`replay reader: ${msg.message}`);
          if (msg.kind === 'done') return resolve();
          for (const item of msg.items) {
            if ('m' in item) {
              applyMessage(model, options.names, { ...item.m, time: new Date(item.m.time) }, log.changes);
            } else if (applyMalformed(model, item.x, log.changes)) {
              options.onMalformed?.(item.x);
            }
          }
          // The model kept only the rows whose detail it derived; the worker rendered the rest.
          for (const line of msg.lines) log.rendered.push(line);
          worker.postMessage('ack');
          await log.afterApply();
        }).catch(reject);
      });
    });
  } finally {
    worker.removeAllListeners('exit');
    await worker.terminate();
  }
  await log.finish();
}
