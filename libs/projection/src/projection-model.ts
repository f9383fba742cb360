import type { ClientId, DecisionMessage, GkEvent, NodeId } from '#contracts';
import { initialClusterState, type ClusterState } from '#domain';

/**
 * The projector's in-memory model: per cluster the state `evolve` builds (the rules' own view, so
 * the read model cannot drift from the domain), plus what the read model keeps beyond it (when
 * and why a record was dropped, grace-period history, the outbox). Rows are derived from it; the
 * model itself can be rebuilt from the rows (loader.ts), which is how a projector resumes.
 */
export interface ProjectionModel {
  clusters: Map<string, ClusterModel>;
  /** Invalidation messages derived from a GraceEnded and not yet seen back in the stream. */
  outbox: Map<string, OutboxItem>;
  /** Last stream sequence applied (a message at or below it is a redelivery and a no-op). */
  position: number;
  messages: number;
  events: number;
  malformed: number;
}

export interface ClusterModel {
  cluster: string;
  state: ClusterState;
  /** node → client → what the read model keeps about that record besides the state. */
  extras: Map<NodeId, Map<ClientId, ClientExtras>>;
  periods: Map<number, GracePeriodRow>;
  lastSequence: number;
}

export interface Invalidation {
  /** Event time of the event that dropped the record. */
  at: string;
  /** Why evolve dropped it (its DropReason): the grace end reason, or `removed`. */
  reason: string;
  /** The epoch of the record that was dropped. */
  epoch: number;
  sequence: number;
}

export interface ClientExtras {
  /** The grace period (R) in which the client last reclaimed. */
  reclaimedEpoch?: number;
  invalidation?: Invalidation;
  lastSequence: number;
}

export interface GracePeriodRow {
  recoveryEpoch: number;
  startedAt?: string;
  startedSequence?: number;
  nodes: NodeId[];
  endedAt?: string;
  endedSequence?: number;
  reason?: string;
  abandonedNodes?: NodeId[];
  reclaimsAccepted: number;
  reclaimsRejected: number;
  completions: number;
  invalidated: number;
}

export interface OutboxItem {
  id: string;
  cluster: string;
  /** The GraceEnded's stream sequence: a published copy can only be after it. */
  afterSequence: number;
  message: DecisionMessage;
}

/** An audit row: the event and where it is; the nodes and clients it names are read off the event when rendered. */
export interface AuditRow {
  sequence: number;
  idx: number;
  event: GkEvent;
  messageId: string;
  subject: string;
  cluster: string;
  detail?: unknown;
}

export interface MalformedRow {
  sequence: number;
  subject: string;
  kind: string;
  error: string;
  raw: Uint8Array;
}

export function emptyModel(): ProjectionModel {
  return { clusters: new Map(), outbox: new Map(), position: 0, messages: 0, events: 0, malformed: 0 };
}

export function clusterModel(model: ProjectionModel, cluster: string): ClusterModel {
  let m = model.clusters.get(cluster);
  if (!m) {
    m = { cluster, state: initialClusterState(), extras: new Map(), periods: new Map(), lastSequence: 0 };
    model.clusters.set(cluster, m);
  }
  return m;
}
