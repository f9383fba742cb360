import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Client } from 'pg';
import type { DecisionMessage, StreamNames } from '#contracts';
import type { JetStreamEventStore, MalformedMessage, StoredMessage, Subscription } from '#event-store';
import type { NatsConnection } from '@nats-io/transport-node';
import { CONTROL_SCHEMA, dropOldGenerations, LOCK_SQL, readPointer, sqlOf } from './control';
import { connectClient } from './database';
import { generationSchema, indexStatements, quoteIdent, READ_MODEL_VERSION, readModelName, tablesDdl } from './ddl';
import { applyMalformed, applyMessage, ChangeSet, emptyModel, type ProjectionModel } from './model';
import type { ReplayWorkerInput, ReplayWorkerMessage } from './replay-worker';
import { materializeChanges } from './rows';
import { lastEventSequence, projectedSubjects } from './stream';
import { appendLog, writeAll, writeChanges } from './writer';

export interface RebuildProgress {
  phase: 'replaying' | 'writing' | 'indexing' | 'catching-up' | 'swapped';
  /** Stream sequence reached. */
  position: number;
  /** The last event's sequence when the rebuild started. */
  target: number;
  events: number;
  messages: number;
  malformed: number;
  elapsedMs: number;
}

export interface RebuildOptions {
  /** A dedicated connection (the rebuild holds a session advisory lock on it). */
  client: Client;
  /** Where `client` connects, for one more connection while indexes are built; default: read off `client`. */
  databaseUrl?: string;
  /** With it, a worker thread reads and decodes the stream (its own connection) while this thread applies. */
  natsUrl?: string;
  nc: NatsConnection;
  store: JetStreamEventStore<DecisionMessage>;
  names: StreamNames;
  /** Read model name; default: derived from the stream name. */
  name?: string;
  onProgress?: (p: RebuildProgress) => void;
  /** Audit rows per COPY while replaying. */
  chunkRows?: number;
  /** How long the swap may wait for the stream to deliver up to the live checkpoint. */
  catchUpTimeoutMs?: number;
  /** Told of each malformed message (it is recorded in the new generation and skipped). */
  onMalformed?: (m: MalformedMessage) => void;
}

export interface RebuildResult {
  generation: number;
  schema: string;
  previous?: { generation: number; schema: string };
  position: number;
  events: number;
  messages: number;
  malformed: number;
  /** Events replayed in the replay phase and how long the whole rebuild took. */
  elapsedMs: number;
  eventsPerSecond: number;
  messagesPerSecond: number;
}

export class RebuildRefused extends Error {
  override readonly name = 'RebuildRefused';
}

/**
 * Rebuilds the read model from the first event into a fresh generation and swaps it in while the
 * live projection keeps serving.
 *
 * 1. replay: every event up to the last one at start, straight into memory (the model), with the
 *    append-only audit rows copied out as they come; no indexes yet.
 * 2. write: the derived tables from the model, in one pass; then the indexes.
 * 3. swap: lock the live pointer (the live projector's next write waits), bring the new
 *    generation up to the live checkpoint from the stream inside that transaction, and point the
 *    read model at it. The live projector notices the new generation, reloads from it and
 *    continues; the old generation is kept until the next swap for readers mid-query.
 */
export async function rebuildReadModel(options: RebuildOptions): Promise<RebuildResult> {
  const { client, names } = options;
  const sql = sqlOf(client);
  const name = options.name ?? readModelName(names.stream);
  const started = performance.now();
  const [lock] = await sql<{ locked: boolean }>(LOCK_SQL.rebuild, [name]);
  if (!lock?.locked) throw new RebuildRefused(`another rebuild of read model ${name} is running`);
  try {
    // Anything still `building` was left by a rebuild that died (we hold the rebuild lock).
    const stale = await sql<{ schema: string }>(`SELECT schema FROM ${CONTROL_SCHEMA}.generations WHERE name = $1 AND state = 'building'`, [name]);
    for (const s of stale) await sql(`DROP SCHEMA IF EXISTS ${quoteIdent(s.schema)} CASCADE`);
    await sql(`DELETE FROM ${CONTROL_SCHEMA}.generations WHERE name = $1 AND state = 'building'`, [name]);
    const [{ next }] = await sql<{ next: number }>(
      `SELECT coalesce(max(generation), 0) + 1 AS next FROM ${CONTROL_SCHEMA}.generations WHERE name = $1`, [name]);
    const generation = Number(next);
    const schema = generationSchema(name, generation);
    await sql(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    await sql(`INSERT INTO ${CONTROL_SCHEMA}.generations (name, generation, schema, version, state) VALUES ($1, $2, $3, $4, 'building')`,
      [name, generation, schema, READ_MODEL_VERSION]);
    await client.query(tablesDdl(schema));

    const model = emptyModel();
    const target = await lastEventSequence(options.nc, names);
    const progress = (phase: RebuildProgress['phase']) => options.onProgress?.({
      phase, position: model.position, target, events: model.events, messages: model.messages,
      malformed: model.malformed, elapsedMs: performance.now() - started,
    });

    await replayInto(model, target, schema, options, progress);
    // The audit log is complete: its indexes build on a second connection while the derived
    // tables are written and indexed on this one.
    progress('writing');
    const indexing = buildIndexes(options, indexStatements(schema).audit);
    indexing.catch(() => undefined);
    await writeAll(client, schema, model);
    progress('indexing');
    await client.query(`SET maintenance_work_mem = '256MB'`);
    for (const statement of indexStatements(schema).records) await client.query(statement);
    await client.query('RESET maintenance_work_mem');
    await indexing;
    // Statistics for the small tables the queries join on; the audit log's come from autovacuum
    // (CREATE INDEX has already set its size, which is what its plans need first).
    await client.query(`ANALYZE ${['client_records', 'clusters', 'nodes', 'grace_periods'].map((t) => `${quoteIdent(schema)}.${t}`).join(', ')}`);
    // The rate is the replay's own (first event to indexes built), before the catch-up with the live stream.
    const replayed = { events: model.events, messages: model.messages };
    const replayMs = performance.now() - started;

    progress('catching-up');
    const swapped = await swapIn(model, name, schema, generation, options);
    progress('swapped');
    const previous = swapped.previous;
    await dropOldGenerations(sql, name, previous ? [previous.generation] : []);
    const elapsedMs = performance.now() - started;
    return {
      generation, schema, previous,
      position: swapped.sequence, events: swapped.events, messages: swapped.messages, malformed: swapped.malformed,
      elapsedMs,
      eventsPerSecond: replayMs > 0 ? (replayed.events / replayMs) * 1000 : 0,
      messagesPerSecond: replayMs > 0 ? (replayed.messages / replayMs) * 1000 : 0,
    };
  } finally {
    await sql(LOCK_SQL.unlockRebuild, [name]).catch(() => undefined);
  }
}

/** Phase 1: every message up to `target` into the model; audit rows copied out in chunks, one COPY in flight. */
async function replayInto(model: ProjectionModel, target: number, schema: string, options: RebuildOptions,
  progress: (phase: RebuildProgress['phase']) => void): Promise<void> {
  if (target === 0) return;
  const workerFile = join(__dirname, 'replay-worker.js');
  // Compiled code with a NATS URL reads and decodes in a worker thread; tests (TypeScript) in-thread.
  if (options.natsUrl && __filename.endsWith('.js') && existsSync(workerFile) && process.env.GK_REPLAY_WORKER !== '0') {
    return replayWithWorker(model, target, schema, options, progress, workerFile);
  }
  return replayInThread(model, target, schema, options, progress);
}

async function replayInThread(model: ProjectionModel, target: number, schema: string, options: RebuildOptions,
  progress: (phase: RebuildProgress['phase']) => void): Promise<void> {
  const chunkRows = options.chunkRows ?? 20_000;
  // Per-client rows are written once at the end from the model: only the log is copied out here.
  let changes = new ChangeSet({ trackRows: false });
  let writing: Promise<void> = Promise.resolve();
  let failed: unknown;
  let lastProgress = 0;
  const writeOut = async () => {
    const batch = changes;
    changes = new ChangeSet({ trackRows: false });
    await writing;
    writing = appendLog(options.client, schema, batch.audit, batch.malformedRows).catch((err: unknown) => { failed = err; });
  };
  let reached!: () => void;
  const done = new Promise<void>((resolve) => { reached = resolve; });
  const after = async (sequence: number) => {
    if (changes.audit.length + changes.malformedRows.length >= chunkRows) await writeOut();
    if (failed) throw failed;
    const now = performance.now();
    if (now - lastProgress > 200) {
      lastProgress = now;
      progress('replaying');
    }
    if (sequence >= target) reached();
  };
  const sub = await options.store.subscribe(projectedSubjects(options.names), { fromSequence: 1 }, (stored) => {
    if (stored.sequence > target) return;
    applyMessage(model, options.names, stored, changes);
    return after(stored.sequence);
  }, {
    onMalformed: (m) => {
      if (m.sequence > target) return;
      applyMalformed(model, m, changes);
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
  await writeOut();
  await writing;
  if (failed) throw failed;
  progress('replaying');
}

/**
 * Phase 1 with a reader thread: the worker reads, decodes, validates and renders the stateless
 * audit rows; this thread applies the messages in order, renders the audit rows that need the
 * state, and copies everything out, one COPY in flight. Batches are acknowledged, so the worker
 * stays at most a few batches ahead.
 */
async function replayWithWorker(model: ProjectionModel, target: number, schema: string, options: RebuildOptions,
  progress: (phase: RebuildProgress['phase']) => void, workerFile: string): Promise<void> {
  const chunkRows = options.chunkRows ?? 20_000;
  const input: ReplayWorkerInput = { natsUrl: options.natsUrl!, names: options.names, target, batchMessages: 256, maxBatchesInFlight: 8 };
  const worker = new Worker(workerFile, { workerData: input });
  const newChanges = () => new ChangeSet({ trackRows: false, modelAuditOnly: true });
  let changes = newChanges();
  let rendered: string[] = [];
  let writing: Promise<void> = Promise.resolve();
  let failed: unknown;
  let lastProgress = 0;
  const writeOut = async () => {
    const batch = changes;
    const lines = rendered;
    changes = newChanges();
    rendered = [];
    await writing;
    writing = appendLog(options.client, schema, batch.audit, batch.malformedRows, lines).catch((err: unknown) => { failed = err; });
  };
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
              applyMessage(model, options.names, { ...item.m, time: new Date(item.m.time) }, changes);
            } else if (applyMalformed(model, item.x, changes)) {
              options.onMalformed?.(item.x);
            }
          }
          // The model kept only the rows whose detail it derived; the worker rendered the rest.
          for (const line of msg.lines) rendered.push(line);
          worker.postMessage('ack');
          if (rendered.length + changes.audit.length + changes.malformedRows.length >= chunkRows) await writeOut();
          if (failed) throw failed;
          const now = performance.now();
          if (now - lastProgress > 200) {
            lastProgress = now;
            progress('replaying');
          }
        }).catch(reject);
      });
    });
  } finally {
    worker.removeAllListeners('exit');
    await worker.terminate();
  }
  await writeOut();
  await writing;
  if (failed) throw failed;
  progress('replaying');
}

/**
 * Phase 3: under the pointer's row lock, bring the new generation to at least the live
 * checkpoint, then point the read model at it.
 */
async function swapIn(model: ProjectionModel, name: string, schema: string, generation: number, options: RebuildOptions) {
  const { client, names } = options;
  const sql = sqlOf(client);
  let changes = new ChangeSet();
  let waiter: { sequence: number; resolve: () => void } | undefined;
  const onApplied = () => {
    if (waiter && model.position >= waiter.sequence) waiter.resolve();
  };
  let sub: Subscription | undefined;
  const follow = async () => {
    sub ??= await options.store.subscribe(projectedSubjects(names), { fromSequence: model.position + 1 }, (stored: StoredMessage<DecisionMessage>) => {
      applyMessage(model, names, stored, changes);
      onApplied();
    }, { onMalformed: (m) => { if (applyMalformed(model, m, changes)) options.onMalformed?.(m); onApplied(); } });
  };
  const reach = async (sequence: number) => {
    if (model.position >= sequence) return;
    await follow();
    const timeoutMs = options.catchUpTimeoutMs ?? 60_000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`rebuild could not reach the live checkpoint ${sequence} within ${timeoutMs} ms (at ${model.position})`)), timeoutMs);
      waiter = { sequence, resolve: () => { clearTimeout(timer); resolve(); } };
      onApplied();
    });
    waiter = undefined;
  };
  const written = { sequence: model.position, events: model.events, messages: model.messages, malformed: model.malformed };
  const writePending = async () => {
    if (changes.empty) return;
    const rows = materializeChanges(model, changes);
    changes = new ChangeSet();
    await writeChanges(client, schema, rows, written.sequence);
    Object.assign(written, { sequence: rows.lastSequence, events: rows.events, messages: rows.messages, malformed: rows.malformed });
  };
  try {
    // Most of the distance outside the lock, so that the live projector is held up only briefly.
    for (let round = 0; round < 3; round++) {
      const live = await readPointer(sql, name);
      const liveCheckpoint = live ? await checkpointOf(client, live.schema) : 0;
      if (model.position >= liveCheckpoint) break;
      await reach(liveCheckpoint);
      await client.query('BEGIN');
      await writePending().then(() => client.query('COMMIT'), async (err) => { await client.query('ROLLBACK'); throw err; });
    }
    await client.query('BEGIN');
    try {
      const live = await readPointer(sql, name, 'FOR UPDATE');
      const liveCheckpoint = live ? await checkpointOf(client, live.schema) : 0;
      await reach(liveCheckpoint);
      await writePending();
      if (live) {
        await sql(`UPDATE ${CONTROL_SCHEMA}.read_models SET schema = $2, generation = $3, version = $4, swapped_at = now() WHERE name = $1`,
          [name, schema, generation, READ_MODEL_VERSION]);
        await sql(`UPDATE ${CONTROL_SCHEMA}.generations SET state = 'retired' WHERE name = $1 AND generation = $2`, [name, live.generation]);
      } else {
        await sql(`INSERT INTO ${CONTROL_SCHEMA}.read_models (name, schema, generation, version, swapped_at) VALUES ($1, $2, $3, $4, now())`,
          [name, schema, generation, READ_MODEL_VERSION]);
      }
      await sql(`UPDATE ${CONTROL_SCHEMA}.generations SET state = 'live' WHERE name = $1 AND generation = $2`, [name, generation]);
      await client.query('COMMIT');
      return { ...written, previous: live ? { generation: live.generation, schema: live.schema } : undefined };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  } finally {
    await (sub as Subscription | undefined)?.stop();
  }
}

/** Runs index statements on a connection of its own, with room to sort in memory. */
async function buildIndexes(options: RebuildOptions, statements: string[]): Promise<void> {
  const extra = await connectClient(options.databaseUrl ?? connectionStringOf(options.client), 'gk-registry-rebuild-index');
  try {
    await extra.query(`SET maintenance_work_mem = '512MB'`);
    for (const statement of statements) await extra.query(statement);
  } finally {
    await extra.end().catch(() => undefined);
  }
}

function connectionStringOf(client: Client): string {
  const p = client as unknown as { connectionParameters: { user: string; password?: string; host: string; port: number; database: string } };
  const { user, password, host, port, database } = p.connectionParameters;
  return `postgres://${encodeURIComponent(user)}${password ? `:${encodeURIComponent(password)}` : ''}@${host.startsWith('/') ? encodeURIComponent(host) : host}:${port}/${encodeURIComponent(database)}`;
}

async function checkpointOf(client: Client, schema: string): Promise<number> {
  const r = await client.query<{ sequence: string }>(`SELECT sequence FROM ${quoteIdent(schema)}.checkpoint`);
  return r.rows[0] ? Number(r.rows[0].sequence) : 0;
}
