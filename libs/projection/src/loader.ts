import type { DecisionMessage, GraceConfig, GraceEndReason } from '#contracts';
import type { ClientRecord } from '#domain';
import { quoteIdent } from './ddl';
import type { Sql } from './control';
import { clusterModel, emptyModel, type GracePeriodRow, type ProjectionModel } from './model';

const num = (x: unknown): number | undefined => (x === null || x === undefined ? undefined : Number(x));
const str = (x: unknown): string | undefined => (x === null || x === undefined ? undefined : String(x));

/**
 * Rebuilds the projector's model from a schema's rows: the exact inverse of rows.ts, so a
 * projector that resumes from the database continues as if it had never stopped. Timestamps are
 * read back as epoch milliseconds (the state's unit) or as the text PostgreSQL stored.
 */
export async function loadModel(sql: Sql, schema: string, scope?: LoadScope): Promise<ProjectionModel> {
  const s = quoteIdent(schema);
  const model = emptyModel();
  // A scope narrows the load to one cluster (and one node's records, or a few clients of it):
  // enough for the domain's queries to answer about them.
  const params: unknown[] = scope ? [scope.cluster] : [];
  const inCluster = scope ? 'WHERE cluster = $1' : '';
  let recordFilter = inCluster;
  if (scope?.node !== undefined) {
    params.push(scope.node);
    recordFilter += ` AND node = $${params.length}`;
  }
  if (scope?.clients !== undefined) {
    params.push(scope.clients);
    recordFilter += ` AND client = ANY($${params.length}::text[])`;
  }
  const [cp] = await sql<{ sequence: string; messages: string; events: string; malformed: string }>(`SELECT sequence, messages, events, malformed FROM ${s}.checkpoint`);
  if (cp) {
    model.position = Number(cp.sequence);
    model.messages = Number(cp.messages);
    model.events = Number(cp.events);
    model.malformed = Number(cp.malformed);
  }
  const msOf = (col: string) => `floor(extract(epoch from ${col}) * 1000)::bigint AS ${col}`;
  const clusters = await sql<Record<string, unknown>>(
    `SELECT cluster, exists, epoch, recovery_epoch, config, non_reclaim_granted, ${msOf('grace_started_at')}, ${msOf('grace_last_join_at')},
      ${msOf('grace_last_reclaim_at')}, grace_reclaims_accepted, last_grace_end_epoch, last_grace_end_reason, ${msOf('last_grace_end_at')},
      last_grace_end_abandoned, events, last_sequence FROM ${s}.clusters ${inCluster}`, params.slice(0, scope ? 1 : 0),
  );
  for (const row of clusters) {
    const cm = clusterModel(model, String(row.cluster));
    const st = cm.state;
    st.exists = Boolean(row.exists);
    if (st.exists) st.cluster = cm.cluster;
    st.config = row.config as GraceConfig;
    st.epoch = Number(row.epoch);
    st.recoveryEpoch = Number(row.recovery_epoch);
    st.nonReclaimGranted = Boolean(row.non_reclaim_granted);
    if (row.grace_started_at !== null) {
      st.grace = {
        startedAt: Number(row.grace_started_at),
        lastJoinAt: Number(row.grace_last_join_at),
        reclaimsAccepted: Number(row.grace_reclaims_accepted),
      };
      if (row.grace_last_reclaim_at !== null) st.grace.lastReclaimAt = Number(row.grace_last_reclaim_at);
    }
    if (row.last_grace_end_epoch !== null) {
      st.lastGraceEnd = {
        recoveryEpoch: Number(row.last_grace_end_epoch),
        reason: row.last_grace_end_reason as GraceEndReason,
        at: Number(row.last_grace_end_at),
        abandonedNodes: (row.last_grace_end_abandoned as string[]) ?? [],
      };
    }
    st.eventsApplied = Number(row.events);
    cm.lastSequence = Number(row.last_sequence);
  }
  const nodes = await sql<Record<string, unknown>>(`SELECT cluster, node, member, need, enforcing, ${msOf('grace_started_at')}, recovering FROM ${s}.nodes ${inCluster}`, params.slice(0, scope ? 1 : 0));
  for (const row of nodes) {
    const st = clusterModel(model, String(row.cluster)).state;
    const node = String(row.node);
    if (row.member) {
      const m: { need: boolean; enforcing: boolean; graceStartedAt?: number } = { need: Boolean(row.need), enforcing: Boolean(row.enforcing) };
      if (row.grace_started_at !== null) m.graceStartedAt = Number(row.grace_started_at);
      st.members.set(node, m);
    }
    st.records.set(node, { current: new Map(), completed: new Set(), ...(row.recovering ? { recovery: new Map() } : {}) });
  }
  const clients = await sql<Record<string, unknown>>(
    `SELECT cluster, node, client, current_record_epoch, principal_hash, has_session, recovery_record_epoch, recovery_principal_hash,
      recovery_has_session, completed, reclaimed_epoch, invalidated_at::text AS invalidated_at, invalidated_reason, invalidated_epoch,
      invalidated_sequence, last_sequence FROM ${s}.client_records ${recordFilter} ORDER BY cluster, node, client`, params,
  );
  for (const row of clients) {
    const cm = clusterModel(model, String(row.cluster));
    const node = String(row.node);
    const client = String(row.client);
    let r = cm.state.records.get(node);
    if (!r) cm.state.records.set(node, (r = { current: new Map(), completed: new Set() }));
    if (row.current_record_epoch !== null) r.current.set(client, record(row.current_record_epoch, row.principal_hash, row.has_session));
    if (row.recovery_record_epoch !== null) {
      // A recovering node's rows always come with its node row (recovering = true).
      (r.recovery ??= new Map()).set(client, record(row.recovery_record_epoch, row.recovery_principal_hash, row.recovery_has_session));
    }
    if (row.completed) r.completed.add(client);
    let byClient = cm.extras.get(node);
    if (!byClient) cm.extras.set(node, (byClient = new Map()));
    byClient.set(client, {
      reclaimedEpoch: row.reclaimed_epoch !== null ? Number(row.reclaimed_epoch) : undefined,
      invalidation: row.invalidated_at !== null ? {
        at: String(row.invalidated_at),
        reason: String(row.invalidated_reason),
        epoch: Number(row.invalidated_epoch),
        sequence: Number(row.invalidated_sequence),
      } : undefined,
      lastSequence: Number(row.last_sequence),
    });
  }
  const periods = await sql<Record<string, unknown>>(
    `SELECT cluster, recovery_epoch, started_at::text AS started_at, started_sequence, nodes, ended_at::text AS ended_at, ended_sequence, reason,
      abandoned_nodes, reclaims_accepted, reclaims_rejected, completions, invalidated FROM ${s}.grace_periods ${inCluster} ORDER BY cluster, recovery_epoch`,
    params.slice(0, scope ? 1 : 0),
  );
  for (const row of periods) {
    const cm = clusterModel(model, String(row.cluster));
    const p: GracePeriodRow = {
      recoveryEpoch: Number(row.recovery_epoch),
      nodes: (row.nodes as string[]) ?? [],
      reclaimsAccepted: Number(row.reclaims_accepted),
      reclaimsRejected: Number(row.reclaims_rejected),
      completions: Number(row.completions),
      invalidated: Number(row.invalidated),
    };
    const startedAt = str(row.started_at);
    if (startedAt !== undefined) p.startedAt = startedAt;
    const startedSequence = num(row.started_sequence);
    if (startedSequence !== undefined) p.startedSequence = startedSequence;
    const endedAt = str(row.ended_at);
    if (endedAt !== undefined) p.endedAt = endedAt;
    const endedSequence = num(row.ended_sequence);
    if (endedSequence !== undefined) p.endedSequence = endedSequence;
    const reason = str(row.reason);
    if (reason !== undefined) p.reason = reason;
    if (row.abandoned_nodes !== null) p.abandonedNodes = row.abandoned_nodes as string[];
    cm.periods.set(p.recoveryEpoch, p);
  }
  if (scope) return model;
  const outbox = await sql<{ id: string; cluster: string; after_sequence: string; message: DecisionMessage }>(
    `SELECT id, cluster, after_sequence, message FROM ${s}.outbox ORDER BY after_sequence, id`,
  );
  for (const row of outbox) model.outbox.set(row.id, { id: row.id, cluster: row.cluster, afterSequence: Number(row.after_sequence), message: row.message });
  return model;
}

export interface LoadScope {
  cluster: string;
  node?: string;
  clients?: string[];
}

function record(epoch: unknown, principalHash: unknown, hasSession: unknown): ClientRecord {
  const rec: ClientRecord = { epoch: Number(epoch) };
  if (principalHash !== null && principalHash !== undefined) rec.principalHash = String(principalHash);
  if (hasSession !== null && hasSession !== undefined) rec.hasSession = Boolean(hasSession);
  return rec;
}
