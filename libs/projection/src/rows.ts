import type { ClientId, NodeId } from '#contracts';
import { holdsValidRecord } from '#domain';
import { copyArray, copyValue } from './copy-in';
import { referencesOf, type AuditRow, type ChangeSet, type ClusterModel, type GracePeriodRow, type MalformedRow, type OutboxItem, type ProjectionModel } from './model';

/**
 * Rows of the read model, rendered straight into COPY text lines. Every value is derived from
 * the model, which is derived from the events, so the same events give the same lines whatever
 * the batch boundaries were.
 */
export const COLUMNS = {
  clusters: ['cluster', 'exists', 'epoch', 'recovery_epoch', 'config', 'non_reclaim_granted', 'grace_started_at',
    'grace_last_join_at', 'grace_last_reclaim_at', 'grace_reclaims_accepted', 'last_grace_end_epoch',
    'last_grace_end_reason', 'last_grace_end_at', 'last_grace_end_abandoned', 'events', 'last_sequence'],
  nodes: ['cluster', 'node', 'member', 'need', 'enforcing', 'grace_started_at', 'recovering'],
  client_records: ['cluster', 'node', 'client', 'valid', 'current_record_epoch', 'principal_hash', 'has_session',
    'recovery_record_epoch', 'recovery_principal_hash', 'recovery_has_session', 'completed', 'reclaimed_epoch',
    'invalidated_at', 'invalidated_reason', 'invalidated_epoch', 'invalidated_sequence', 'last_sequence'],
  grace_periods: ['cluster', 'recovery_epoch', 'started_at', 'started_sequence', 'nodes', 'ended_at', 'ended_sequence',
    'reason', 'abandoned_nodes', 'reclaims_accepted', 'reclaims_rejected', 'completions', 'invalidated'],
  audit_events: ['sequence', 'idx', 'id', 'message_id', 'subject', 'type', 'cluster', 'epoch', 'time', 'actor',
    'causation', 'node', 'nodes', 'clients', 'detail', 'event'],
  malformed_events: ['sequence', 'subject', 'kind', 'error', 'raw'],
  outbox: ['id', 'cluster', 'after_sequence', 'message'],
} as const;

export type TableName = keyof typeof COLUMNS;

const v = copyValue;
const ms = (t: number | undefined) => (t === undefined ? '\\N' : new Date(t).toISOString());

export function clusterLine(cm: ClusterModel): string {
  const s = cm.state;
  const end = s.lastGraceEnd;
  return [
    v(cm.cluster), v(s.exists), v(s.epoch), v(s.recoveryEpoch), v(JSON.stringify(s.config)), v(s.nonReclaimGranted),
    ms(s.grace?.startedAt), ms(s.grace?.lastJoinAt), ms(s.grace?.lastReclaimAt), v(s.grace?.reclaimsAccepted),
    v(end?.recoveryEpoch), v(end?.reason), ms(end?.at), copyArray(end?.abandonedNodes), v(s.eventsApplied), v(cm.lastSequence),
  ].join('\t');
}

export function nodeLines(cm: ClusterModel): string[] {
  const s = cm.state;
  const nodes = new Set<NodeId>([...s.members.keys(), ...s.records.keys()]);
  return [...nodes].sort().map((node) => {
    const m = s.members.get(node);
    const r = s.records.get(node);
    return [v(cm.cluster), v(node), v(!!m), v(m?.need ?? false), v(m?.enforcing ?? false), ms(m?.graceStartedAt), v(!!r?.recovery)].join('\t');
  });
}

export function clientLine(cm: ClusterModel, node: NodeId, client: ClientId): string {
  const r = cm.state.records.get(node);
  const cur = r?.current.get(client);
  const rec = r?.recovery?.get(client);
  const ex = cm.extras.get(node)?.get(client);
  const inv = ex?.invalidation;
  return [
    v(cm.cluster), v(node), v(client), v(holdsValidRecord(cm.state, node, client)),
    v(cur?.epoch), v(cur?.principalHash), v(cur?.hasSession),
    v(rec?.epoch), v(rec?.principalHash), v(rec?.hasSession),
    v(r?.completed.has(client) ?? false), v(ex?.reclaimedEpoch),
    v(inv?.at), v(inv?.reason), v(inv?.epoch), v(inv?.sequence), v(ex?.lastSequence ?? 0),
  ].join('\t');
}

export function periodLine(cluster: string, p: GracePeriodRow): string {
  return [
    v(cluster), v(p.recoveryEpoch), v(p.startedAt), v(p.startedSequence), copyArray(p.nodes), v(p.endedAt), v(p.endedSequence),
    v(p.reason), copyArray(p.abandonedNodes), v(p.reclaimsAccepted), v(p.reclaimsRejected), v(p.completions), v(p.invalidated),
  ].join('\t');
}

/**
 * Audit rows whose `detail` comes from the state (why a reclaim was refused, what a grace end
 * invalidated): only the model can render them. Every other audit row is a function of the
 * message alone, which lets a rebuild render those off the main thread.
 */
export function renderedByModel(subjectKind: 'cluster' | 'registry', type: string): boolean {
  return subjectKind === 'cluster' && (type === 'ReclaimRejected' || type === 'GraceEnded');
}

export function auditLine(a: AuditRow): string {
  const e = a.event;
  const node = 'node' in e ? e.node : undefined;
  const refs = referencesOf(e);
  return [
    v(a.sequence), v(a.idx), v(e.id), v(a.messageId), v(a.subject), v(e.type), v(a.cluster), v(e.epoch), v(e.time),
    v(e.actor), v(e.causation), v(node), copyArray(refs.nodes), copyArray(refs.clients),
    a.detail === undefined ? '\\N' : v(JSON.stringify(a.detail)), v(JSON.stringify(e)),
  ].join('\t');
}

export function malformedLine(m: MalformedRow): string {
  // bytea in COPY text: the hex form `\x…`, whose backslash COPY itself needs doubled.
  return [v(m.sequence), v(m.subject), v(m.kind), v(m.error), `\\\\x${Buffer.from(m.raw).toString('hex')}`].join('\t');
}

export function outboxLine(o: OutboxItem): string {
  return [v(o.id), v(o.cluster), v(o.afterSequence), v(JSON.stringify(o.message))].join('\t');
}

/** A batch's rows, rendered synchronously so the model may move on while they are written. */
export interface ChangeRows {
  lastSequence: number;
  messages: number;
  events: number;
  malformed: number;
  audit: string[];
  malformedRows: string[];
  clusters: string[];
  clusterKeys: string[];
  nodes: string[];
  clients: string[];
  periods: string[];
  periodKeys: { clusters: string[]; epochs: number[] };
  outbox: string[];
  outboxKeys: string[];
}

export function materializeChanges(model: ProjectionModel, changes: ChangeSet): ChangeRows {
  const clusters: string[] = [];
  const nodes: string[] = [];
  for (const cluster of changes.clusters) {
    const cm = model.clusters.get(cluster)!;
    clusters.push(clusterLine(cm));
    nodes.push(...nodeLines(cm));
  }
  const clients: string[] = [];
  for (const [cluster, byNode] of changes.clients) {
    const cm = model.clusters.get(cluster)!;
    for (const [node, set] of byNode) for (const client of set) clients.push(clientLine(cm, node, client));
  }
  const periods: string[] = [];
  const periodKeys = { clusters: [] as string[], epochs: [] as number[] };
  for (const [cluster, epochs] of changes.periods) {
    const cm = model.clusters.get(cluster)!;
    for (const epoch of epochs) {
      periods.push(periodLine(cluster, cm.periods.get(epoch)!));
      periodKeys.clusters.push(cluster);
      periodKeys.epochs.push(epoch);
    }
  }
  return {
    lastSequence: changes.lastSequence,
    messages: model.messages,
    events: model.events,
    malformed: model.malformed,
    audit: changes.audit.map(auditLine),
    malformedRows: changes.malformedRows.map(malformedLine),
    clusters,
    clusterKeys: [...changes.clusters],
    nodes,
    clients,
    periods,
    periodKeys,
    outbox: [...changes.outboxAdded.values()].map(outboxLine),
    outboxKeys: [...changes.outboxAdded.keys(), ...changes.outboxRemoved],
  };
}
