import { ClientId, CheckStatus, NodeId } from '#contracts';
import { graceDeadline } from './deadline';
import { allEnforcing, ClusterState, inGrace, membersNeeding } from './state';

/**
 * Where the client's valid record on this node is: in epoch C (`current`: changed only by the
 * node's own writes), only in epoch R (`recovery`: valid only while this grace period lasts), or
 * nowhere (`none`).
 */
export type RecordStanding = 'current' | 'recovery' | 'none';

export function recordStanding(s: ClusterState, node: NodeId, client: ClientId): RecordStanding {
  const r = s.records.get(node);
  if (r?.current.has(client)) return 'current';
  return r?.recovery?.has(client) ? 'recovery' : 'none';
}

/** Whether the client holds a valid record on this node, of epoch R or C (SPEC I3/I4). */
export function holdsValidRecord(s: ClusterState, node: NodeId, client: ClientId): boolean {
  return recordStanding(s, node, client) !== 'none';
}

/** check: does the client hold a valid record on this node, of epoch R or C? */
export function checkClient(s: ClusterState, node: NodeId, client: ClientId): CheckStatus {
  return holdsValidRecord(s, node, client) ? 'OK' : 'NFS4ERR_RECLAIM_BAD';
}

/**
 * Whether `lift node` would clear its NEED now: the lift rule (SPEC §2) does nothing while grace
 * is in force and some member lacks ENFORCING.
 */
export function liftTakesEffect(s: ClusterState, node: NodeId): boolean {
  return inGrace(s) && allEnforcing(s) && !!s.members.get(node)?.need;
}

/**
 * nfsdcltrack's early end of grace, in the state's terms: it writes Y to v4_end_grace after
 * `init` or a v4.1 `create` when no client record is older than the boot (every old record was
 * reclaimed) and every client has a session (v4.0 clients never say they are done).
 */
export function nothingLeftToReclaim(s: ClusterState, node: NodeId): boolean {
  if (!s.members.get(node)?.need) return false;
  const r = s.records.get(node);
  if (!r) return true;
  for (const [client, record] of r.recovery ?? []) {
    if (!r.current.has(client) && !r.completed.has(client)) return false;
    if (record.hasSession !== true) return false;
  }
  for (const record of r.current.values()) if (record.hasSession !== true) return false;
  return true;
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
  /** Identities of members that were ever moved, where they are served now; absent when none was. */
  placements?: { node: NodeId; host: NodeId; generation: number }[];
  /**
   * Identities whose serving host is silent (no heartbeat past liveness.deadAfterMs): since when
   * (the report's time less the silence it measured) and when it was reported; absent when none.
   */
  silent?: { node: NodeId; host: NodeId; since: string; reportedAt: string; silentForMs: number }[];
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
    ...placementSummary(s),
    ...silenceSummary(s),
  };
}

function placementSummary(s: ClusterState): Pick<GraceSummary, 'placements'> {
  const moved = [...s.placements].filter(([node]) => s.members.has(node)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return moved.length ? { placements: moved.map(([node, p]) => ({ node, host: p.host, generation: p.generation })) } : {};
}

function silenceSummary(s: ClusterState): Pick<GraceSummary, 'silent'> {
  const silent = [...s.silent].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return silent.length ? {
    silent: silent.map(([node, x]) => ({
      node, host: x.host, since: new Date(x.reportedAt - x.silentForMs).toISOString(), reportedAt: new Date(x.reportedAt).toISOString(), silentForMs: x.silentForMs,
    })),
  } : {};
}
