import { reclaimableClients, reclaimStatus, summarize, type GraceSummary } from '#domain';
import { CONTROL_SCHEMA, readPointer, type LivePointer, type Sql } from './control';
import { quoteIdent } from './ddl';
import { explainStatus } from './explain';
import { loadModel } from './loader';

/**
 * The registry's read side. Every answer is read in one REPEATABLE READ transaction with the
 * checkpoint, and reports the stream sequence it reflects: the read model holds exactly the
 * events up to that sequence, never a part of a batch.
 */
export type ReadTransaction = <T>(work: (sql: Sql) => Promise<T>) => Promise<T>;

export interface Reflects {
  /** The last stream sequence whose effect this answer includes. */
  sequence: number;
  generation: number;
}

/** Whether an error means the database is out of reach (retry later) rather than a bug. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  if (/^(08|57|53)/.test(code)) return true; // connection exception, operator intervention, insufficient resources
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code)) return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect/i.test((err as Error)?.message ?? '');
}

export class NoReadModel extends Error {
  override readonly name = 'NoReadModel';
  constructor(name: string) {
    super(`read model ${name} does not exist yet (the client-registry builds it on its first start)`);
  }
}

export class ReadModelQueries {
  constructor(private readonly tx: ReadTransaction, readonly name: string) {}

  /**
   * Runs `work` on the live generation, inside one snapshot. A generation dropped between the
   * pointer read and the data (two swaps during one query) is retried on the new one.
   */
  async read<T>(work: (sql: Sql, schema: string, at: Reflects) => Promise<T>): Promise<T & Reflects> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.readOnce(work);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (attempt >= 3 || (code !== '42P01' && code !== '3F000')) throw err;
      }
    }
  }

  private readOnce<T>(work: (sql: Sql, schema: string, at: Reflects) => Promise<T>): Promise<T & Reflects> {
    return this.tx(async (sql) => {
      const pointer = await readPointer(sql, this.name);
      if (!pointer) throw new NoReadModel(this.name);
      const [cp] = await sql<{ sequence: string }>(`SELECT sequence FROM ${quoteIdent(pointer.schema)}.checkpoint`);
      const at = { sequence: Number(cp?.sequence ?? 0), generation: pointer.generation };
      const value = await work(sql, pointer.schema, at);
      return { ...value, ...at };
    });
  }

  async status(): Promise<ProjectionStatus> {
    return this.tx(async (sql) => {
      const pointer = await readPointer(sql, this.name);
      const generations = await sql<{ generation: number; schema: string; state: string; created_at: Date }>(
        `SELECT generation, schema, state, created_at FROM ${CONTROL_SCHEMA}.generations WHERE name = $1 ORDER BY generation`, [this.name]);
      if (!pointer) return { name: this.name, exists: false, generations };
      const [cp] = await sql<{ sequence: string; messages: string; events: string; malformed: string; updated_at: Date }>(
        `SELECT sequence, messages, events, malformed, updated_at FROM ${quoteIdent(pointer.schema)}.checkpoint`);
      return {
        name: this.name, exists: true, live: pointer, generations,
        checkpoint: cp ? {
          sequence: Number(cp.sequence), messages: Number(cp.messages), events: Number(cp.events),
          malformed: Number(cp.malformed), updatedAt: cp.updated_at.toISOString(),
        } : undefined,
      };
    });
  }

  /** The cluster's grace state as the read model holds it (the same summary gracectl status prints). */
  cluster(cluster: string) {
    return this.read(async (sql, schema) => {
      const model = await loadModel(sql, schema, { cluster, clients: [] });
      const cm = model.clusters.get(cluster);
      return { cluster, exists: !!cm?.state.exists, summary: cm ? summarize(cm.state) : undefined as GraceSummary | undefined };
    });
  }

  /** "Is X reclaimable on node N now?" — the domain's reclaim rule on the projected state. */
  reclaimable(cluster: string, node: string, client: string) {
    return this.read(async (sql, schema) => {
      const model = await loadModel(sql, schema, { cluster, node, clients: [client] });
      const cm = model.clusters.get(cluster);
      if (!cm?.state.exists) return { cluster, node, client, reclaimable: false, status: 'NFS4ERR_NO_GRACE' as const, why: `cluster ${cluster} does not exist` };
      const status = reclaimStatus(cm.state, node, client);
      return { cluster, node, client, reclaimable: status === 'OK', status, why: explainStatus(cm.state, node, client, status), recoveryEpoch: cm.state.recoveryEpoch };
    });
  }

  /** "Which clients of node N may reclaim in this grace period?" */
  reclaimableClients(cluster: string, node: string) {
    return this.read(async (sql, schema) => {
      const model = await loadModel(sql, schema, { cluster, node });
      const cm = model.clusters.get(cluster);
      const clients = cm ? reclaimableClients(cm.state, node).sort() : [];
      return { cluster, node, recoveryEpoch: cm?.state.recoveryEpoch ?? 0, count: clients.length, clients };
    });
  }

  clients(cluster: string, filter: ClientFilter = {}) {
    return this.read(async (sql, schema) => {
      const params: unknown[] = [cluster];
      const where = ['cluster = $1'];
      const add = (clause: (n: number) => string, value: unknown) => {
        params.push(value);
        where.push(clause(params.length));
      };
      if (filter.node !== undefined) add((n) => `node = $${n}`, filter.node);
      if (filter.valid !== undefined) add((n) => `valid = $${n}`, filter.valid);
      if (filter.epoch !== undefined) add((n) => `(current_record_epoch = $${n} OR recovery_record_epoch = $${n})`, filter.epoch);
      if (filter.after) {
        params.push(filter.after.node, filter.after.client);
        where.push(`(node, client) > ($${params.length - 1}, $${params.length})`);
      }
      const limit = Math.min(Math.max(1, filter.limit ?? 100), 10_000);
      const rows = await sql<ClientRow>(
        `SELECT ${CLIENT_COLUMNS} FROM ${quoteIdent(schema)}.client_records WHERE ${where.join(' AND ')} ORDER BY node, client LIMIT ${limit + 1}`, params);
      const items = rows.slice(0, limit).map(clientView);
      const next = rows.length > limit ? { node: items[items.length - 1]!.node, client: items[items.length - 1]!.client } : undefined;
      return { cluster, items, next };
    });
  }

  /** One client's records on every node, and the events that name it. */
  client(cluster: string, client: string) {
    return this.read(async (sql, schema) => {
      const rows = await sql<ClientRow>(`SELECT ${CLIENT_COLUMNS} FROM ${quoteIdent(schema)}.client_records WHERE cluster = $1 AND client = $2 ORDER BY node`, [cluster, client]);
      const events = await sql<{ sequence: string; idx: number; type: string; node: string | null; time: Date; actor: string; causation: string | null; detail: unknown }>(
        `SELECT sequence, idx, type, node, time, actor, causation, detail FROM ${quoteIdent(schema)}.audit_events
         WHERE cluster = $1 AND clients @> ARRAY[$2]::text[] ORDER BY sequence, idx`, [cluster, client]);
      return {
        cluster, client,
        records: rows.map(clientView),
        history: events.map((e) => ({
          sequence: Number(e.sequence), idx: e.idx, type: e.type, node: e.node ?? undefined, time: e.time.toISOString(),
          actor: e.actor, causation: e.causation ?? undefined, detail: e.detail ?? undefined,
        })),
      };
    });
  }

  gracePeriods(cluster: string) {
    return this.read(async (sql, schema) => {
      const rows = await sql<Record<string, unknown>>(
        `SELECT recovery_epoch, started_at, started_sequence, nodes, ended_at, ended_sequence, reason, abandoned_nodes,
          reclaims_accepted, reclaims_rejected, completions, invalidated
         FROM ${quoteIdent(schema)}.grace_periods WHERE cluster = $1 ORDER BY recovery_epoch`, [cluster]);
      return {
        cluster,
        periods: rows.map((r) => ({
          recoveryEpoch: Number(r.recovery_epoch),
          startedAt: iso(r.started_at), startedSequence: optNum(r.started_sequence), nodes: r.nodes as string[],
          endedAt: iso(r.ended_at), endedSequence: optNum(r.ended_sequence), reason: (r.reason as string | null) ?? undefined,
          abandonedNodes: (r.abandoned_nodes as string[] | null) ?? undefined,
          reclaimsAccepted: Number(r.reclaims_accepted), reclaimsRejected: Number(r.reclaims_rejected),
          completions: Number(r.completions), invalidated: Number(r.invalidated),
        })),
      };
    });
  }

  malformed(limit = 100) {
    return this.read(async (sql, schema) => {
      const rows = await sql<{ sequence: string; subject: string; kind: string; error: string; raw: Buffer }>(
        `SELECT sequence, subject, kind, error, raw FROM ${quoteIdent(schema)}.malformed_events ORDER BY sequence DESC LIMIT $1`, [Math.min(Math.max(1, limit), 1000)]);
      return {
        items: rows.map((r) => ({ sequence: Number(r.sequence), subject: r.subject, kind: r.kind, error: r.error, raw: r.raw.toString('utf8').slice(0, 2000) })),
      };
    });
  }
}

export interface ProjectionStatus {
  name: string;
  exists: boolean;
  live?: LivePointer;
  generations: { generation: number; schema: string; state: string; created_at: Date }[];
  checkpoint?: { sequence: number; messages: number; events: number; malformed: number; updatedAt: string };
}

export interface ClientFilter {
  node?: string;
  epoch?: number;
  valid?: boolean;
  limit?: number;
  /** Keyset paging: the last (node, client) of the previous page. */
  after?: { node: string; client: string };
}

const CLIENT_COLUMNS = `node, client, valid, current_record_epoch, principal_hash, has_session, recovery_record_epoch, completed,
  reclaimed_epoch, invalidated_at, invalidated_reason, invalidated_epoch, invalidated_sequence, last_sequence`;

interface ClientRow {
  node: string;
  client: string;
  valid: boolean;
  current_record_epoch: number | null;
  principal_hash: string | null;
  has_session: boolean | null;
  recovery_record_epoch: number | null;
  completed: boolean;
  reclaimed_epoch: number | null;
  invalidated_at: Date | null;
  invalidated_reason: string | null;
  invalidated_epoch: number | null;
  invalidated_sequence: string | null;
  last_sequence: string;
}

export interface ClientView {
  node: string;
  client: string;
  valid: boolean;
  /** Epoch of its record in the current epoch C, if it has one. */
  currentRecordEpoch?: number;
  /** Epoch of its record of the recovery epoch R, while its node recovers. */
  recoveryRecordEpoch?: number;
  principalHash?: string;
  hasSession?: boolean;
  completed: boolean;
  reclaimedEpoch?: number;
  invalidated?: { at: string; reason: string; epoch: number; sequence: number };
  lastSequence: number;
}

function clientView(r: ClientRow): ClientView {
  const v: ClientView = { node: r.node, client: r.client, valid: r.valid, completed: r.completed, lastSequence: Number(r.last_sequence) };
  if (r.current_record_epoch !== null) v.currentRecordEpoch = r.current_record_epoch;
  if (r.recovery_record_epoch !== null) v.recoveryRecordEpoch = r.recovery_record_epoch;
  if (r.principal_hash !== null) v.principalHash = r.principal_hash;
  if (r.has_session !== null) v.hasSession = r.has_session;
  if (r.reclaimed_epoch !== null) v.reclaimedEpoch = r.reclaimed_epoch;
  if (r.invalidated_at !== null) {
    v.invalidated = { at: r.invalidated_at.toISOString(), reason: r.invalidated_reason!, epoch: r.invalidated_epoch!, sequence: Number(r.invalidated_sequence) };
  }
  return v;
}

const iso = (x: unknown) => (x instanceof Date ? x.toISOString() : undefined);
const optNum = (x: unknown) => (x === null || x === undefined ? undefined : Number(x));

/** A read transaction over a pg Pool (REPEATABLE READ, READ ONLY). */
export function poolReadTransaction(pool: { connect(): Promise<{ query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>; release(): void }> }): ReadTransaction {
  return async (work) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      try {
        const out = await work(async <T>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as T[]);
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    } finally {
      client.release();
    }
  };
}
