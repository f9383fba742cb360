import { z } from 'zod';
import { GraceConfigSchema, LivenessPolicySchema } from './config';
import { ClientIdSchema, ClusterIdSchema, NodeIdSchema, PrincipalHashSchema } from './ids';

export const EVENT_SCHEMA_VERSION = 1;

/** What every event carries, whatever its type (SPEC §3). */
const envelopeFields = {
  v: z.literal(EVENT_SCHEMA_VERSION),
  /** Unique id; the id of the first event of a decision is also the JetStream msgID. */
  id: z.string().min(1).max(200),
  cluster: ClusterIdSchema,
  /** The current epoch C once this event is applied. */
  epoch: z.number().int().positive(),
  time: z.iso.datetime(),
  /** Who caused it: a node id, `gracectl:<user>`, `coordinator:<replica>`, `registry:<replica>`. */
  actor: z.string().min(1).max(200),
  /** The id of the request, command or event that caused it, for audits. */
  causation: z.string().max(200).optional(),
};

export const GraceEndReasonSchema = z.enum(['all-reclaimed', 'deadline', 'first-non-reclaim-grant', 'removed', 'admin']);
export type GraceEndReason = z.infer<typeof GraceEndReasonSchema>;

const NFS4_REJECTIONS = z.enum(['NFS4ERR_GRACE', 'NFS4ERR_NO_GRACE', 'NFS4ERR_RECLAIM_BAD', 'NFS4ERR_COMPLETE_ALREADY']);

const ClientRef = z.object({
  client: ClientIdSchema,
  principalHash: PrincipalHashSchema.optional(),
  hasSession: z.boolean().optional(),
}).strict();
export type ClientRef = z.infer<typeof ClientRef>;

const ev = <T extends string, S extends z.ZodRawShape>(type: T, shape: S) =>
  z.object({ type: z.literal(type), ...envelopeFields, ...shape }).strict();

export const EventSchemas = {
  ClusterConfigured: ev('ClusterConfigured', { config: GraceConfigSchema }),
  MemberAdded: ev('MemberAdded', { node: NodeIdSchema }),
  MemberRemoved: ev('MemberRemoved', { node: NodeIdSchema, abandoned: z.boolean() }),
  NodeEnforcing: ev('NodeEnforcing', { node: NodeIdSchema }),
  NodeEnforcementLifted: ev('NodeEnforcementLifted', { node: NodeIdSchema }),
  GraceStarted: ev('GraceStarted', { recoveryEpoch: z.number().int().positive(), nodes: z.array(NodeIdSchema).min(1) }),
  NodeJoinedGrace: ev('NodeJoinedGrace', { node: NodeIdSchema, recoveryEpoch: z.number().int().positive() }),
  NeedLifted: ev('NeedLifted', { node: NodeIdSchema }),
  GraceEnded: ev('GraceEnded', {
    recoveryEpoch: z.number().int().positive(),
    reason: GraceEndReasonSchema,
    /** Members that still needed grace and lost their clients' chance to reclaim. */
    abandonedNodes: z.array(NodeIdSchema),
  }),
  ClientRecorded: ev('ClientRecorded', { node: NodeIdSchema, clients: z.array(ClientRef).min(1) }),
  ClientRemoved: ev('ClientRemoved', { node: NodeIdSchema, clients: z.array(ClientIdSchema).min(1) }),
  ReclaimAccepted: ev('ReclaimAccepted', {
    node: NodeIdSchema,
    recoveryEpoch: z.number().int().positive(),
    clients: z.array(ClientIdSchema).min(1),
    /** The host the reclaims came through, when it is not the identity's own-name host (I8 audits). */
    host: NodeIdSchema.optional(),
  }),
  ReclaimRejected: ev('ReclaimRejected', {
    node: NodeIdSchema,
    rejections: z.array(z.object({ client: ClientIdSchema, status: NFS4_REJECTIONS, op: z.enum(['reclaim', 'reclaim_complete']) }).strict()).min(1),
  }),
  ReclaimCompleted: ev('ReclaimCompleted', { node: NodeIdSchema, clients: z.array(ClientIdSchema).min(1) }),
  FirstNonReclaimGrant: ev('FirstNonReclaimGrant', { node: NodeIdSchema }),
  /**
   * The identity `node` (a member: every event names its member `node`) is served by `toHost`
   * from now on (failover, failback). `generation`
   * is its placement generation after the move: it only grows, and an agent acting with an older
   * one is fenced (SPEC I8). The decision that moves also starts or joins grace for the identity.
   */
  IdentityMoved: ev('IdentityMoved', {
    node: NodeIdSchema,
    fromHost: NodeIdSchema,
    toHost: NodeIdSchema,
    generation: z.number().int().positive(),
  }),
  /**
   * No heartbeat from `host`, which serves the identity `node`, for `silentForMs` (more than the
   * configured `deadAfterMs`), as the recording coordinator measured it on its monotonic clock.
   * `policy` is the liveness policy applied: the events it produced follow in the same decision
   * (`start-grace`: GraceStarted/NodeJoinedGrace; `move`: IdentityMoved and the start);
   * `policyRefused` says why it produced nothing (e.g. the standby is not a member).
   */
  MemberSilent: ev('MemberSilent', {
    node: NodeIdSchema,
    host: NodeIdSchema,
    silentForMs: z.number().int().nonnegative(),
    deadAfterMs: z.number().int().positive(),
    policy: LivenessPolicySchema,
    policyRefused: z.string().max(500).optional(),
  }),
  /** A heartbeat from `host` for the silent identity `node` arrived again. */
  MemberHeard: ev('MemberHeard', { node: NodeIdSchema, host: NodeIdSchema }),
  ClientRecordsInvalidated: ev('ClientRecordsInvalidated', {
    recoveryEpoch: z.number().int().positive(),
    reason: GraceEndReasonSchema,
    node: NodeIdSchema,
    clients: z.array(ClientIdSchema),
    /** Chunk k of n: one grace end can invalidate more clients than one NATS message holds. */
    part: z.number().int().nonnegative(),
    parts: z.number().int().positive(),
  }),
} as const;

export type EventType = keyof typeof EventSchemas;
export const EVENT_TYPES = Object.keys(EventSchemas) as EventType[];

export const GkEventSchema = z.discriminatedUnion('type', Object.values(EventSchemas) as unknown as [
  (typeof EventSchemas)[EventType], ...(typeof EventSchemas)[EventType][]
]);

export type GkEventOf<T extends EventType> = z.infer<(typeof EventSchemas)[T]>;
export type GkEvent = { [T in EventType]: GkEventOf<T> }[EventType];

/** The fields the deciders produce; the envelope fields are stamped on when the decision is sealed. */
export type EnvelopeField = keyof typeof envelopeFields | 'cluster';
export type EventBody = { [T in EventType]: Omit<GkEventOf<T>, EnvelopeField> }[EventType];
export type EventMeta = Pick<GkEvent, 'id' | 'cluster' | 'epoch' | 'time' | 'actor' | 'causation'>;
