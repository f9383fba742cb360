import type { Client } from 'pg';
import type { DecisionMessage, StreamNames } from '#contracts';
import type { JetStreamEventStore, MalformedMessage } from '#event-store';
import type { NatsConnection } from '@nats-io/transport-node';
import { CONTROL_SCHEMA, dropOldGenerations, LOCK_SQL, sqlOf } from './control';
import { connectClient } from './database';
import { generationSchema, indexStatements, quoteIdent, READ_MODEL_VERSION, readModelName, tablesDdl } from './ddl';
import { emptyModel } from './model';
import { replayInto } from './rebuild-replay';
import { swapIn } from './rebuild-swap';
import { lastEventSequence } from './stream';
import { writeAll } from './writer';

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
