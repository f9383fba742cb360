import type { ClientId, GraceEndReason, NodeId } from '#contracts';
import type { ClientRecord } from './state';

/** Why a record stopped being valid: the end of a grace period (its reason), or a `remove`. */
export type DropReason = GraceEndReason | 'removed';

export interface DroppedRecord {
  client: ClientId;
  /** The epoch of the record that was dropped. */
  epoch: number;
}

/**
 * What applying one event did to the client records, beyond what the event itself names, as
 * `evolve` did it. Readers that keep something per record (the projection's rows and history,
 * the registry's invalidation messages, the audit) take these instead of re-deriving the rules.
 * Collections are handed over, not copied: they are the ones evolve replaced and no longer uses.
 */
export type EvolveEffect =
  /**
   * A node (re)started inside grace: `moved` are the records it held in C, now records to
   * reclaim (their reclaims in this grace period are forgotten); `completedForgotten` the clients
   * whose RECLAIM_COMPLETE it forgot.
   */
  | { type: 'NodeRestarted'; node: NodeId; recoveryEpoch: number; moved: ReadonlyMap<ClientId, ClientRecord>; completedForgotten: ReadonlySet<ClientId> }
  /**
   * Records that are invalid from now on (SPEC I4 for a grace end): per node, sorted by client.
   * A grace end reports its nodes in sorted order, so every replica derives the same list.
   */
  | { type: 'RecordsDropped'; node: NodeId; reason: DropReason; records: DroppedRecord[] }
  /** A grace period ended: `records` is the node's whole recovery set, reclaimed or not, now gone. */
  | { type: 'RecoveryClosed'; node: NodeId; records: ReadonlyMap<ClientId, ClientRecord> };
