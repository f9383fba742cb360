import { ClientId, ClientRef, EventBody, GraceConfig, GraceConfigChange, NodeId, ReclaimCompleteStatus, ReclaimStatus } from '#contracts';
import type { Via } from './placement-rule';

/** The gracectl / coordinator operations of SPEC §2. */
export type AdminCommand =
  | { type: 'add'; nodes: NodeId[]; config?: Partial<GraceConfig> }
  | { type: 'configure'; config: GraceConfigChange }
  /** With `via`, an agent's grace_start: fenced unless that host serves the identity (one node) at that generation. */
  | { type: 'start'; nodes: NodeId[]; addMissing?: boolean; via?: Via }
  /** The identity is served by `host` from now on: failover, failback (SPEC §2, identities). */
  | { type: 'move'; identity: NodeId; host: NodeId }
  | { type: 'join'; nodes: NodeId[] }
  | { type: 'enforce'; nodes: NodeId[] }
  | { type: 'noenforce'; nodes: NodeId[] }
  /** With `via`, an agent's grace_done: fenced like `start` (an old host must not end a moved identity's recovery). */
  | { type: 'lift'; nodes: NodeId[]; via?: Via }
  | { type: 'remove'; nodes: NodeId[] }
  | { type: 'member'; nodes: NodeId[] }
  | { type: 'end'; reason: 'admin' }
  | { type: 'expire'; now: number }
  | LivenessCommand;

/**
 * A liveness watcher's report (the coordinator): `host`, which serves `identity`, has sent no
 * heartbeat for `silentForMs` on the watcher's clocks (see liveness-rule `silentFor`), or it was
 * heard again.
 */
export type LivenessCommand =
  | { type: 'silent'; identity: NodeId; host: NodeId; silentForMs: number }
  | { type: 'heard'; identity: NodeId; host: NodeId };

/**
 * What a node-agent decides on behalf of its NFS server, for the identity `node`, acting from
 * host `via` (absent: the identity's own-name host, never moved — the simple case). A command
 * through a host that does not serve the identity at that point of the log is fenced (I8).
 */
export type NodeCommand =
  | { type: 'create'; node: NodeId; clients: ClientRef[]; via?: Via }
  | { type: 'removeClients'; node: NodeId; clients: ClientId[]; via?: Via }
  | { type: 'reclaim'; node: NodeId; clients: ClientId[]; via?: Via }
  | { type: 'reclaimComplete'; node: NodeId; clients: ClientId[]; via?: Via }
  | { type: 'mayGrant'; node: NodeId; now: number; ownGrace?: OwnGraceMeasure; via?: Via };

/**
 * How long this node's own grace period has lasted, as the agent measured it on its monotonic
 * clock (I7): `began` names the grace start measured (the event time the state records for it,
 * see `ownGraceBegan`), `elapsedMs` the monotonic time since the agent first saw that start. The
 * agent always sends it; without one (the domain's virtual-time tests) `now` alone decides.
 */
export interface OwnGraceMeasure {
  began: number;
  elapsedMs: number;
}

export type Command = AdminCommand | NodeCommand;

export type RejectionCode =
  | 'NO_CLUSTER'       // the cluster has no events yet
  | 'NOT_MEMBER'       // a listed node is not a member
  | 'NO_NODES'         // an operation that takes node ids got none
  | 'INVALID'          // a malformed argument (e.g. configuration)
  | 'IN_GRACE'         // refused while a grace period is in force
  | 'NOT_IN_GRACE'     // needs a grace period in force
  | 'NOT_YET'          // the deadline has not passed
  | 'WAIT_POLICY'      // deadlinePolicy `wait` keeps grace while a member needs it
  | 'UNKNOWN_HOST'     // a move names a host that is not known (see knownHosts)
  | 'FENCED';          // the acting host does not serve the identity at this point of the log (I8)

export interface Rejection {
  code: RejectionCode;
  message: string;
}

export type Reply =
  | { kind: 'none' }
  | { kind: 'reclaim'; statuses: ReclaimStatus[] }
  | { kind: 'reclaimComplete'; statuses: ReclaimCompleteStatus[] }
  | { kind: 'mayGrant'; status: 'OK' | 'NFS4ERR_GRACE'; endsGrace: boolean };

/**
 * A decision: the events to append and the answer to give once they are stored. Every decision
 * with events is appended with the expected-last-sequence check, so each event's epoch and
 * meaning are those of its place in the log (a stale view fails its append, catches up and
 * decides again). `needsFreshView` marks answers that are only true on a current view even when
 * there is nothing to append (a grant already recorded, a refusal outside grace that is not
 * stored): the shell confirms its view against the
 * log before replying, so a cache alone never answers OK.
 */
export interface Decision {
  events: EventBody[];
  needsFreshView: boolean;
  reply: Reply;
}

/**
 * What a decider returns for one command: a decision, or a rejection. The command handler
 * (libs/cluster-store) appends the decision's events and turns the outcome into a `CommandResult`.
 */
export type Outcome = { ok: true; decision: Decision } | { ok: false; rejection: Rejection };
