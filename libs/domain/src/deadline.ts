import { NodeId } from '#contracts';
import { ClusterState } from './state';

/**
 * When the grace period in force may be ended for lack of progress: one grace time after it
 * started or a node last joined it, pushed one lease past the latest reclaim while reclaims keep
 * coming, never beyond twice the grace time after it started. Derived from event times only, so
 * every replica and every restart computes the same instant. Undefined when no grace is in force.
 */
export function graceDeadline(s: ClusterState): number | undefined {
  if (!s.grace) return undefined;
  const { graceTimeMs, leaseTimeMs } = s.config;
  const { startedAt, lastJoinAt, lastReclaimAt } = s.grace;
  const natural = Math.max(startedAt + graceTimeMs, lastJoinAt + graceTimeMs, (lastReclaimAt ?? 0) + leaseTimeMs);
  return Math.min(natural, startedAt + 2 * graceTimeMs);
}

/** Under `first-exit`, when a node's own grace time has passed (it need not wait for the others). */
export function nodeGraceOver(s: ClusterState, node: NodeId, now: number): boolean {
  if (!s.grace) return true;
  const member = s.members.get(node);
  const began = member?.graceStartedAt ?? s.grace.startedAt;
  return now >= began + s.config.graceTimeMs;
}
