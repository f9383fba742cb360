import type { NodeId } from '#contracts';
import { ClusterState, placementOf } from './state';

/**
 * Who acts for an identity: the host whose agent sends the command and the placement generation
 * that agent believes it serves the identity at (it adopted it when its NFS server started
 * serving the identity there).
 */
export interface Via {
  host: NodeId;
  generation: number;
}

/** The simple case, where a node command names no host: the identity's own-name host, never moved. */
export const ownHost = (identity: NodeId): Via => ({ host: identity, generation: 0 });

/**
 * Which clause of the placement rule (SPEC I8) refuses a command for `identity` sent through
 * `via`, or undefined when the host serves the identity at this point of the log:
 * - `other-host`: the identity is served by another host (the sender missed a move away);
 * - `stale-generation`: the host serves it again, but under a later placement than the sender's
 *   (moved away and back: the sender is the server instance from before the move).
 * A fenced command appends nothing, so two hosts never both have reclaims accepted for one identity.
 */
export type FenceReason = 'other-host' | 'stale-generation';

export function fenceReason(s: ClusterState, identity: NodeId, via: Via): FenceReason | undefined {
  const placement = placementOf(s, identity);
  if (placement.host !== via.host) return 'other-host';
  return placement.generation === via.generation ? undefined : 'stale-generation';
}

/** The sentence for a fenced command: which identity, which host now serves it, at which generation. */
export function fenceMessage(s: ClusterState, identity: NodeId, via: Via): string {
  const placement = placementOf(s, identity);
  return `fenced: identity ${identity} is served by host ${placement.host} at placement generation ${placement.generation}` +
    `; host ${via.host} acted at generation ${via.generation}`;
}

/**
 * The hosts a move may name: every member's own-name host (each member identity has an agent of
 * its name in the simple case) and every host serving a member now. A standby host with no
 * identity of its own is made known by adding it as a member (an identity with no clients).
 */
export function knownHosts(s: ClusterState): Set<NodeId> {
  const hosts = new Set(s.members.keys());
  for (const identity of s.members.keys()) hosts.add(placementOf(s, identity).host);
  return hosts;
}
