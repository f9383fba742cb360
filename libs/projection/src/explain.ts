import type { ClientId, GraceEndReason, NodeId } from '#contracts';
import { type ClusterState, inGrace } from '#domain';

/** Why a grace period ended, in an operator's words. */
export function endReasonText(reason: GraceEndReason | string): string {
  switch (reason) {
    case 'all-reclaimed': return 'every recovering node finished reclaiming';
    case 'deadline': return 'its deadline passed';
    case 'first-non-reclaim-grant': return 'a node granted non-reclaim state (exitPolicy first-exit)';
    case 'removed': return 'the last recovering node was removed';
    case 'admin': return 'an administrator ended it';
    default: return reason;
  }
}

/** One sentence on how the last grace period ended, or undefined if none ever did. */
export function lastGraceEndText(s: ClusterState): string | undefined {
  const end = s.lastGraceEnd;
  if (!end) return undefined;
  const abandoned = end.abandonedNodes.length ? `; abandoned ${end.abandonedNodes.join(', ')}` : '';
  return `the grace period of epoch ${end.recoveryEpoch} ended at ${new Date(end.at).toISOString()} because ${endReasonText(end.reason)}${abandoned}`;
}

/**
 * Why a reclaim or RECLAIM_COMPLETE got `status`, read off the state the decision was taken on
 * (SPEC §2's reclaim rule, clause by clause). Used both when the registry projects a
 * ReclaimRejected and when it answers "is X reclaimable on N now?".
 */
export function explainStatus(s: ClusterState, node: NodeId, client: ClientId, status: string, op: 'reclaim' | 'reclaim_complete' = 'reclaim'): string {
  const r = s.records.get(node);
  const member = s.members.get(node);
  switch (status) {
    case 'OK':
      return op === 'reclaim'
        ? `the client holds a record of epoch ${s.recoveryEpoch} on ${node}, which is recovering, and every member enforces`
        : 'first RECLAIM_COMPLETE of this client on this node';
    case 'NFS4ERR_GRACE': {
      const lacking = [...s.members].filter(([, m]) => !m.enforcing).map(([n]) => n).sort();
      return `not every member enforces the grace period yet (${lacking.join(', ') || 'none'} lacking ENFORCING): retry later`;
    }
    case 'NFS4ERR_COMPLETE_ALREADY':
      return `the client already sent RECLAIM_COMPLETE on ${node} since the node last started`;
    case 'NFS4ERR_NO_GRACE':
      if (!inGrace(s)) {
        return `no grace period is in force${lastGraceEnd(s)}`;
      }
      if (r?.completed.has(client)) {
        return `the client already sent RECLAIM_COMPLETE on ${node} in the grace period of epoch ${s.recoveryEpoch}: a later reclaim is refused`;
      }
      if (!member) return `${node} is not a member of the cluster`;
      if (!member.need) return `${node} is not recovering in the grace period of epoch ${s.recoveryEpoch} (it did not restart, or its NEED was lifted)`;
      return 'no grace period is in force for this node';
    case 'NFS4ERR_RECLAIM_BAD': {
      const current = r?.current.get(client);
      if (current) {
        return `the client holds no record of epoch ${s.recoveryEpoch} on ${node}: its record is of epoch ${current.epoch}, written after the grace period began`;
      }
      return `the client holds no valid record of epoch ${s.recoveryEpoch} on ${node} (never recorded there, removed, or invalidated when an earlier grace period ended)`;
    }
    default:
      return status;
  }
}

function lastGraceEnd(s: ClusterState): string {
  const text = lastGraceEndText(s);
  return text ? `: ${text}` : ' (the cluster has not restarted since the client was recorded)';
}
