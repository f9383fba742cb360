import { ClientId, CheckStatus, NodeId } from '#contracts';
import { graceDeadline } from './deadline';
import { ClusterState, membersNeeding } from './state';

/** check: does the client hold a valid record on this node, of epoch R or C? */
export function checkClient(s: ClusterState, node: NodeId, client: ClientId): CheckStatus {
  const r = s.records.get(node);
  return r && (r.current.has(client) || r.recovery?.has(client)) ? 'OK' : 'NFS4ERR_RECLAIM_BAD';
}

/** The clients that may reclaim on this node in the grace period in force (cld GraceStart list). */
export function reclaimableClients(s: ClusterState, node: NodeId): ClientId[] {
  const r = s.records.get(node);
  if (!r?.recovery || !s.members.get(node)?.need) return [];
  return [...r.recovery.keys()].filter((c) => !r.current.has(c) && !r.completed.has(c));
}

/** The ganesha-rados-grace `dump` text (SPEC §4.2). */
export function dumpText(s: ClusterState): string {
  const lines = [`cur=${s.epoch} rec=${s.recoveryEpoch}`, '='.repeat(54)];
  for (const node of [...s.members.keys()].sort()) {
    const m = s.members.get(node)!;
    lines.push(`${node}\t${m.need ? 'N' : ' '}${m.enforcing ? 'E' : ' '}`);
  }
  return lines.join('\n') + '\n';
}

export interface GraceSummary {
  cluster?: string;
  epoch: number;
  recoveryEpoch: number;
  inGrace: boolean;
  members: { node: NodeId; need: boolean; enforcing: boolean }[];
  needing: NodeId[];
  config: ClusterState['config'];
  graceStartedAt?: string;
  deadline?: string;
  reclaimsAccepted?: number;
  nonReclaimGranted: boolean;
  lastGraceEnd?: { recoveryEpoch: number; reason: string; at: string; abandonedNodes: NodeId[] };
}

export function summarize(s: ClusterState): GraceSummary {
  const deadline = graceDeadline(s);
  return {
    cluster: s.cluster,
    epoch: s.epoch,
    recoveryEpoch: s.recoveryEpoch,
    inGrace: s.recoveryEpoch !== 0,
    members: [...s.members].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([node, m]) => ({ node, need: m.need, enforcing: m.enforcing })),
    needing: membersNeeding(s),
    config: s.config,
    graceStartedAt: s.grace ? new Date(s.grace.startedAt).toISOString() : undefined,
    deadline: deadline !== undefined ? new Date(deadline).toISOString() : undefined,
    reclaimsAccepted: s.grace?.reclaimsAccepted,
    nonReclaimGranted: s.nonReclaimGranted,
    lastGraceEnd: s.lastGraceEnd && { ...s.lastGraceEnd, at: new Date(s.lastGraceEnd.at).toISOString() },
  };
}
