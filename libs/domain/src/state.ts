import { ClientId, DEFAULT_GRACE_CONFIG, GraceConfig, GraceEndReason, NodeId } from '#contracts';

export interface MemberState {
  /** NEED: this node has clients from epoch R to recover. */
  need: boolean;
  /** ENFORCING: this node refuses non-reclaim state. */
  enforcing: boolean;
  /** When this node's own grace began (its start or join), for `first-exit`. */
  graceStartedAt?: number;
}

export interface ClientRecord {
  /** The epoch in which this record was first written (create or reclaim); carry-over keeps it. */
  epoch: number;
  principalHash?: string;
  hasSession?: boolean;
}

/**
 * One node's client records. `current` holds the records of epoch C. `recovery`, present only
 * while this node recovers in the grace period R, holds its records of epoch R; when grace ends,
 * what is in `recovery` but not in `current` was not reclaimed and is dropped for ever (I4).
 */
export interface NodeRecords {
  current: Map<ClientId, ClientRecord>;
  recovery?: Map<ClientId, ClientRecord>;
  /** Clients that sent RECLAIM_COMPLETE since this node last (re)started. */
  completed: Set<ClientId>;
}

/**
 * Where a server identity (a member) is served: the host whose agent acts for it, and the
 * placement generation, which grows by one per move. An identity never moved is on its own-name
 * host at generation 0 and has no entry in `ClusterState.placements`.
 */
export interface Placement {
  host: NodeId;
  generation: number;
}

/**
 * An identity reported silent (SPEC §2 liveness): the host that serves it sent no heartbeat for
 * longer than the configured `deadAfter`. Kept until that host is heard again, the identity moves,
 * or it leaves.
 */
export interface Silence {
  host: NodeId;
  /** Event time of the report (`MemberSilent`). */
  reportedAt: number;
  /** How long the host had been silent when it was reported. */
  silentForMs: number;
}

export interface GracePeriod {
  startedAt: number;
  lastJoinAt: number;
  lastReclaimAt?: number;
  reclaimsAccepted: number;
}

export interface GraceEnd {
  recoveryEpoch: number;
  reason: GraceEndReason;
  at: number;
  abandonedNodes: NodeId[];
}

/**
 * The cluster aggregate. `evolve` updates it in place: with 10^5 client records, copying maps
 * per event would dominate every replay. Deciders only read it.
 */
export interface ClusterState {
  exists: boolean;
  cluster?: string;
  config: GraceConfig;
  /** C: the current epoch, starts at 1. */
  epoch: number;
  /** R: 0 when no grace is in force, otherwise C-1. */
  recoveryEpoch: number;
  members: Map<NodeId, MemberState>;
  grace?: GracePeriod;
  /** Whether some node was allowed to grant non-reclaim state in epoch C. */
  nonReclaimGranted: boolean;
  lastGraceEnd?: GraceEnd;
  records: Map<NodeId, NodeRecords>;
  /**
   * The placements of identities that were ever moved (see `placementOf`). Kept when an identity
   * leaves, so that its generation only grows and an agent fenced once stays fenced.
   */
  placements: Map<NodeId, Placement>;
  /** Identities whose serving host is silent (see `Silence`). */
  silent: Map<NodeId, Silence>;
  /** Keep records only for these nodes (a node-agent needs only its own); undefined keeps all. */
  trackedNodes?: ReadonlySet<NodeId>;
  /** Events applied, for status output and checks. */
  eventsApplied: number;
}

export function initialClusterState(options: { trackedNodes?: Iterable<NodeId> } = {}): ClusterState {
  return {
    exists: false,
    config: { ...DEFAULT_GRACE_CONFIG },
    epoch: 1,
    recoveryEpoch: 0,
    members: new Map(),
    nonReclaimGranted: false,
    records: new Map(),
    placements: new Map(),
    silent: new Map(),
    trackedNodes: options.trackedNodes ? new Set(options.trackedNodes) : undefined,
    eventsApplied: 0,
  };
}

export const inGrace = (s: ClusterState): boolean => s.recoveryEpoch !== 0;
export const allEnforcing = (s: ClusterState): boolean => [...s.members.values()].every((m) => m.enforcing);
export const membersNotEnforcing = (s: ClusterState): NodeId[] => [...s.members].filter(([, m]) => !m.enforcing).map(([n]) => n).sort();
export const membersNeeding = (s: ClusterState): NodeId[] => [...s.members].filter(([, m]) => m.need).map(([n]) => n).sort();
export const isTracked = (s: ClusterState, node: NodeId): boolean => !s.trackedNodes || s.trackedNodes.has(node);

/** The identity's placement: its own-name host at generation 0 until it is first moved. */
export function placementOf(s: ClusterState, identity: NodeId): Placement {
  return s.placements.get(identity) ?? { host: identity, generation: 0 };
}

export function nodeRecords(s: ClusterState, node: NodeId): NodeRecords {
  let r = s.records.get(node);
  if (!r) {
    r = { current: new Map(), completed: new Set() };
    s.records.set(node, r);
  }
  return r;
}
