import { NodeId } from '#contracts';
import type { OwnGraceMeasure } from './commands';
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

/** The event time at which `node`'s own grace began (its last start or join); undefined outside grace. */
export function ownGraceBegan(s: ClusterState, node: NodeId): number | undefined {
  if (!s.grace) return undefined;
  return s.members.get(node)?.graceStartedAt ?? s.grace.startedAt;
}

/**
 * Under `first-exit`, when a node's own grace time has passed (it need not wait for the others).
 * I7: a clock may only make grace end later. `now` is the agent's wall clock, compared with an
 * event time another machine may have written; `measured` is the same span on the agent's
 * monotonic clock, which no clock step moves. With a measure both must say the grace time has
 * passed (the later wins, as in the coordinator's deadline timer), and the measure must be of
 * this very grace start: a wall clock running fast or stepped forward cannot end grace early.
 */
export function nodeGraceOver(s: ClusterState, node: NodeId, now: number, measured?: OwnGraceMeasure): boolean {
  const began = ownGraceBegan(s, node);
  if (began === undefined) return true;
  const graceTimeMs = s.config.graceTimeMs;
  const byWall = now >= began + graceTimeMs;
  if (measured === undefined) return byWall;
  return byWall && measured.began === began && measured.elapsedMs >= graceTimeMs;
}
