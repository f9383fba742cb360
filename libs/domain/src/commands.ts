import { ClientId, ClientRef, EventBody, GraceConfig, NodeId, ReclaimCompleteStatus, ReclaimStatus } from '#contracts';

/** The gracectl / coordinator operations of SPEC §2. */
export type AdminCommand =
  | { type: 'add'; nodes: NodeId[]; config?: Partial<GraceConfig> }
  | { type: 'configure'; config: Partial<GraceConfig> }
  | { type: 'start'; nodes: NodeId[]; addMissing?: boolean }
  | { type: 'join'; nodes: NodeId[] }
  | { type: 'enforce'; nodes: NodeId[] }
  | { type: 'noenforce'; nodes: NodeId[] }
  | { type: 'lift'; nodes: NodeId[] }
  | { type: 'remove'; nodes: NodeId[] }
  | { type: 'member'; nodes: NodeId[] }
  | { type: 'end'; reason: 'admin' }
  | { type: 'expire'; now: number };

/** What a node-agent decides on behalf of its NFS server. */
export type NodeCommand =
  | { type: 'create'; node: NodeId; clients: ClientRef[] }
  | { type: 'removeClients'; node: NodeId; clients: ClientId[] }
  | { type: 'reclaim'; node: NodeId; clients: ClientId[] }
  | { type: 'reclaimComplete'; node: NodeId; clients: ClientId[] }
  | { type: 'mayGrant'; node: NodeId; now: number; ownGrace?: OwnGraceMeasure };

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
  | 'WAIT_POLICY';     // deadlinePolicy `wait` keeps grace while a member needs it

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
 * there is nothing to append (a grant already recorded): the shell confirms its view against the
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
