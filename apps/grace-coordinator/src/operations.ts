import { z } from 'zod';
import { parseRpcRequest } from '#service-kit';
import { GraceConfigChangeSchema, GraceConfigSchema, NodeIdSchema } from '#contracts';
import { AdminCommand, dumpText, GraceSummary, RejectionCode, summarize } from '#domain';
import type { ClusterCoordinator } from './cluster-coordinator';

/** Operations that take node ids, as gracectl's (SPEC §2). */
export const NODE_OPS = ['add', 'start', 'join', 'lift', 'remove', 'enforce', 'noenforce', 'member'] as const;
export const READ_OPS = ['dump', 'status'] as const;
export const OTHER_OPS = ['configure', 'end', 'move'] as const;
export const ALL_OPS = [...READ_OPS, ...NODE_OPS, ...OTHER_OPS] as const;
export type Op = (typeof ALL_OPS)[number];
/** The operations that change the log: they need the admin token, on NATS as on REST. */
export const CHANGE_OPS = ['add', 'start', 'join', 'lift', 'remove', 'enforce', 'noenforce', 'configure', 'end', 'move'] as const;

export function isChange(op: string): boolean {
  return (CHANGE_OPS as readonly string[]).includes(op);
}

/**
 * No `actor`: the events record who was authenticated (`adminActor`), never who a caller claims
 * to be; a request that names one is refused as malformed.
 */
const meta = {
  /** Request id for audits, recorded as the events' causation. */
  causation: z.string().min(1).max(200).optional(),
  /** The admin token for changes over NATS, or the read token for reads when one is set (REST takes them as the bearer token). Never logged. */
  token: z.string().max(1024).optional(),
};

/** The actor recorded for a change authorised by the admin token on `transport`. */
export function adminActor(transport: 'nats' | 'rest'): string {
  return `admin-token@${transport}`;
}

/** A coordinator request, over NATS (`subjects.coordinatorRequests`) or REST. */
export const CoordinatorRequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.enum(READ_OPS), ...meta }).strict(),
  z.object({ op: z.literal('add'), nodes: z.array(NodeIdSchema).max(1000), config: GraceConfigSchema.partial().optional(), ...meta }).strict(),
  z.object({ op: z.literal('start'), nodes: z.array(NodeIdSchema).max(1000), addMissing: z.boolean().optional(), ...meta }).strict(),
  z.object({ op: z.enum(['join', 'lift', 'remove', 'enforce', 'noenforce', 'member']), nodes: z.array(NodeIdSchema).max(1000), ...meta }).strict(),
  /** `config.liveness` merges into the one in force; `null` turns dead-host detection off. */
  z.object({ op: z.literal('configure'), config: GraceConfigChangeSchema, ...meta }).strict(),
  z.object({ op: z.literal('end'), ...meta }).strict(),
  /** Failover / failback: the identity is served by `host` from now on. */
  z.object({ op: z.literal('move'), identity: NodeIdSchema, host: NodeIdSchema, ...meta }).strict(),
]);
export type CoordinatorRequest = z.infer<typeof CoordinatorRequestSchema>;

export type ErrorCode = RejectionCode | 'BAD_REQUEST' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_SERVED' | 'UNAVAILABLE' | 'INTERNAL';

export type CoordinatorReply =
  | { ok: true; dump: string; summary: GraceSummary; sequence?: number | null }
  | { ok: false; code: ErrorCode; error: string };

/** Parses an untrusted request; never throws. */
export function parseRequest(raw: unknown): { ok: true; request: CoordinatorRequest } | { ok: false; reply: CoordinatorReply } {
  return parseRpcRequest(CoordinatorRequestSchema, raw);
}

function commandOf(request: CoordinatorRequest): AdminCommand | undefined {
  switch (request.op) {
    case 'dump':
    case 'status':
      return undefined;
    case 'add':
      return { type: 'add', nodes: request.nodes, config: request.config };
    case 'start':
      return { type: 'start', nodes: request.nodes, addMissing: request.addMissing };
    case 'configure':
      return { type: 'configure', config: request.config };
    case 'end':
      return { type: 'end', reason: 'admin' };
    case 'move':
      return { type: 'move', identity: request.identity, host: request.host };
    default:
      return { type: request.op, nodes: request.nodes };
  }
}

/**
 * Performs one request on a cluster coordinator: reads answer from the view brought up to date
 * with the log; changes go through the live view's optimistic-concurrency execute. A successful
 * reply carries the dump and summary after the operation.
 */
export async function perform(c: ClusterCoordinator, request: CoordinatorRequest, defaultCausation: string, actor: string): Promise<CoordinatorReply> {
  const command = commandOf(request);
  let sequence: number | null | undefined;
  if (command) {
    const result = await c.execute(command, { actor, causation: request.causation ?? defaultCausation });
    if (!result.ok) {
      const error = result.rejection.code === 'NO_CLUSTER' ? `cluster ${c.cluster} does not exist (add a node first)` : result.rejection.message;
      return { ok: false, code: result.rejection.code, error };
    }
    sequence = result.sequence;
  }
  const state = (command && c.state) || (await c.read());
  if (!state.exists) return { ok: false, code: 'NO_CLUSTER', error: `cluster ${c.cluster} does not exist (add a node first)` };
  return { ok: true, dump: dumpText(state), summary: summarize(state), ...(sequence !== undefined ? { sequence } : {}) };
}
