import { ClientId, NodeId, ReclaimCompleteStatus, ReclaimStatus } from '#contracts';
import { allEnforcing, ClusterState, inGrace } from './state';

/**
 * Which clause of SPEC §2's reclaim rule decided a reclaim, in the order the rule is read. A tag,
 * not a sentence: explanations (the registry's `why`, the audit) turn it into words.
 */
export type ReclaimReason =
  | 'no-grace'              // R = 0: no grace period is in force
  | 'not-all-enforcing'     // some member lacks ENFORCING: retry later
  | 'already-completed'     // the client sent RECLAIM_COMPLETE on this node since it last started
  | 'not-member'            // the node is not a member
  | 'not-recovering'        // the node lacks NEED (it did not restart, or its NEED was lifted)
  | 'recorded-only-in-C'    // the client's record on the node was written after grace began
  | 'no-record'             // the client holds no valid record of R on the node
  | 'holds-record-of-R';    // accepted

export const RECLAIM_STATUS: Readonly<Record<ReclaimReason, ReclaimStatus>> = {
  'no-grace': 'NFS4ERR_NO_GRACE',
  'not-all-enforcing': 'NFS4ERR_GRACE',
  'already-completed': 'NFS4ERR_NO_GRACE',
  'not-member': 'NFS4ERR_NO_GRACE',
  'not-recovering': 'NFS4ERR_NO_GRACE',
  'recorded-only-in-C': 'NFS4ERR_RECLAIM_BAD',
  'no-record': 'NFS4ERR_RECLAIM_BAD',
  'holds-record-of-R': 'OK',
};

/**
 * The reclaim rule (SPEC §2): accepted only while grace is in force, every member enforces, the
 * client has not completed on this node, the node recovers (NEED), and the client holds a record
 * of epoch R here. Returns the clause that decided; no allocation (it runs per reclaimed client).
 */
export function reclaimReason(s: ClusterState, node: NodeId, client: ClientId): ReclaimReason {
  if (!inGrace(s)) return 'no-grace';
  if (!allEnforcing(s)) return 'not-all-enforcing';
  const r = s.records.get(node);
  if (r?.completed.has(client)) return 'already-completed';
  const member = s.members.get(node);
  if (!member) return 'not-member';
  if (!member.need) return 'not-recovering';
  if (r?.recovery?.has(client)) return 'holds-record-of-R';
  return r?.current.has(client) ? 'recorded-only-in-C' : 'no-record';
}

export function reclaimStatus(s: ClusterState, node: NodeId, client: ClientId): ReclaimStatus {
  return RECLAIM_STATUS[reclaimReason(s, node, client)];
}

/** Which clause decided a RECLAIM_COMPLETE: the first one of a client on a node since it started, or a repeat. */
export type ReclaimCompleteReason = 'first-completion' | 'already-completed';

export const RECLAIM_COMPLETE_STATUS: Readonly<Record<ReclaimCompleteReason, ReclaimCompleteStatus>> = {
  'first-completion': 'OK',
  'already-completed': 'NFS4ERR_COMPLETE_ALREADY',
};

export function reclaimCompleteReason(s: ClusterState, node: NodeId, client: ClientId): ReclaimCompleteReason {
  return s.records.get(node)?.completed.has(client) ? 'already-completed' : 'first-completion';
}
