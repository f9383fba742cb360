import type { Client } from 'pg';
import { copyIn } from './copy-in';
import { quoteIdent } from './ddl';
import type { ProjectionModel } from './model';
import { auditLine, clientLine, clusterLine, COLUMNS, malformedLine, nodeLines, outboxLine, periodLine, type ChangeRows, type TableName } from './rows';
import type { AuditRow, MalformedRow } from './model';

/** The checkpoint moved under us: another projector wrote this schema. Stop and resume from the database. */
export class CheckpointMoved extends Error {
  override readonly name = 'CheckpointMoved';
}

function table(schema: string, name: TableName): string {
  return `${quoteIdent(schema)}.${name}`;
}

function copy(client: Client, schema: string, name: TableName, lines: string[]): Promise<number> {
  if (lines.length === 0) return Promise.resolve(0);
  return copyIn(client, table(schema, name), COLUMNS[name], lines.join('\n') + '\n');
}

const clientUpdates = COLUMNS.client_records.filter((c) => !['cluster', 'node', 'client'].includes(c)).map((c) => `${c} = EXCLUDED.${c}`).join(', ');

/**
 * Writes one batch inside the caller's transaction: moves the checkpoint from `fromSequence` to
 * the batch's last sequence, appends audit and malformed rows, and rewrites the changed rows.
 * The checkpoint update is conditional, so two writers can never both apply the same batch.
 */
export async function writeChanges(client: Client, schema: string, rows: ChangeRows, fromSequence: number): Promise<void> {
  const s = quoteIdent(schema);
  // First: move the checkpoint, or find that someone else did. The row stays locked until commit,
  // so a second writer waits here and then finds the checkpoint moved.
  const moved = await client.query(
    `UPDATE ${s}.checkpoint SET sequence = $1, messages = $2, events = $3, malformed = $4, updated_at = now() WHERE sequence = $5`,
    [rows.lastSequence, rows.messages, rows.events, rows.malformed, fromSequence],
  );
  if (moved.rowCount !== 1) throw new CheckpointMoved(`checkpoint of ${schema} is no longer ${fromSequence}: another projector wrote it`);
  await copy(client, schema, 'audit_events', rows.audit);
  await copy(client, schema, 'malformed_events', rows.malformedRows);
  if (rows.clusterKeys.length) {
    await client.query(`DELETE FROM ${s}.clusters WHERE cluster = ANY($1::text[])`, [rows.clusterKeys]);
    await client.query(`DELETE FROM ${s}.nodes WHERE cluster = ANY($1::text[])`, [rows.clusterKeys]);
    await copy(client, schema, 'clusters', rows.clusters);
    await copy(client, schema, 'nodes', rows.nodes);
  }
  if (rows.clients.length) {
    await client.query(`CREATE TEMP TABLE IF NOT EXISTS gk_client_stage (LIKE ${s}.client_records) ON COMMIT DELETE ROWS`);
    await copyIn(client, 'pg_temp.gk_client_stage', COLUMNS.client_records, rows.clients.join('\n') + '\n');
    await client.query(
      `INSERT INTO ${s}.client_records SELECT * FROM pg_temp.gk_client_stage
       ON CONFLICT (cluster, node, client) DO UPDATE SET ${clientUpdates}`,
    );
  }
  if (rows.periods.length) {
    await client.query(
      `DELETE FROM ${s}.grace_periods g USING unnest($1::text[], $2::int[]) AS k(cluster, epoch)
       WHERE g.cluster = k.cluster AND g.recovery_epoch = k.epoch`,
      [rows.periodKeys.clusters, rows.periodKeys.epochs],
    );
    await copy(client, schema, 'grace_periods', rows.periods);
  }
  if (rows.outboxKeys.length) {
    await client.query(`DELETE FROM ${s}.outbox WHERE id = ANY($1::text[])`, [rows.outboxKeys]);
    await copy(client, schema, 'outbox', rows.outbox);
  }
}

/** Appends audit and malformed rows during a bulk rebuild (no checkpoint: the schema is not live yet). */
export async function appendLog(client: Client, schema: string, audit: AuditRow[], malformed: MalformedRow[], renderedAudit: string[] = []): Promise<void> {
  await copy(client, schema, 'audit_events', renderedAudit.length ? renderedAudit.concat(audit.map(auditLine)) : audit.map(auditLine));
  await copy(client, schema, 'malformed_events', malformed.map(malformedLine));
}

/** Writes every derived row of the model into an empty schema, then its checkpoint. */
export async function writeAll(client: Client, schema: string, model: ProjectionModel, chunkRows = 50_000): Promise<void> {
  const chunks = new Map<TableName, string[]>();
  const flush = async (name: TableName, force = false) => {
    const lines = chunks.get(name);
    if (lines && (force || lines.length >= chunkRows)) {
      await copy(client, schema, name, lines);
      chunks.set(name, []);
    }
  };
  const add = async (name: TableName, line: string) => {
    let lines = chunks.get(name);
    if (!lines) chunks.set(name, (lines = []));
    lines.push(line);
    if (lines.length >= chunkRows) await flush(name);
  };
  for (const cm of model.clusters.values()) {
    await add('clusters', clusterLine(cm));
    for (const line of nodeLines(cm)) await add('nodes', line);
    for (const p of cm.periods.values()) await add('grace_periods', periodLine(cm.cluster, p));
    const keys = new Map<string, Set<string>>();
    for (const [node, byClient] of cm.extras) keys.set(node, new Set(byClient.keys()));
    for (const [node, r] of cm.state.records) {
      let set = keys.get(node);
      if (!set) keys.set(node, (set = new Set()));
      for (const c of r.current.keys()) set.add(c);
      if (r.recovery) for (const c of r.recovery.keys()) set.add(c);
      for (const c of r.completed) set.add(c);
    }
    for (const [node, set] of keys) for (const client of set) await add('client_records', clientLine(cm, node, client));
  }
  for (const o of model.outbox.values()) await add('outbox', outboxLine(o));
  for (const name of chunks.keys()) await flush(name, true);
  await client.query(
    `INSERT INTO ${quoteIdent(schema)}.checkpoint (id, sequence, messages, events, malformed) VALUES (1, $1, $2, $3, $4)`,
    [model.position, model.messages, model.events, model.malformed],
  );
}
