import { z } from 'zod';
import { ClientIdSchema, NodeIdSchema, PrincipalHashSchema } from './ids';
import { zodProblemText } from './zod-text';

/**
 * The node-agent's protocol (SPEC §4.1): its operations as the JSON socket carries them, and its
 * replies. The same shapes are what the cld and REST adapters hand to the agent's service, and
 * what every client (gk-cltrack, scripts, bench, simulator, tests) reads, so none can drift.
 */
const clientFields = {
  /** nfs_client_id4 owner as lowercase hex, at most 1024 bytes. */
  client: ClientIdSchema,
  principalHash: PrincipalHashSchema.optional(),
  /** True for NFSv4.1+ clients (they have sessions and send RECLAIM_COMPLETE). */
  hasSession: z.boolean().optional(),
};

/**
 * Every op may say which server identity it is for (an agent may serve several, SPEC §2); absent:
 * the agent's primary identity, the one its cld and gk-cltrack paths act for.
 */
const target = { identity: NodeIdSchema.optional() };

export const OpSchemas = {
  hello: z.object({ ...target }),
  grace_start: z.object({
    ...target,
    /**
     * The NFS server's boot time (nfsdcltrack's NFSDCLTRACK_GRACE_START). A second grace_start
     * with the same value is the same boot, not a restart. Absent: always a restart.
     */
    graceStart: z.number().int().optional(),
    /** nfsdcltrack's early end: lift this node's NEED at once if nothing is left to reclaim. */
    liftIfDone: z.boolean().optional(),
  }),
  create: z.object({ ...target, ...clientFields, liftIfDone: z.boolean().optional() }),
  remove: z.object({ ...target, client: ClientIdSchema }),
  check: z.object({
    ...target,
    ...clientFields,
    /** nfsdcltrack semantics: a v4.0 client's check during grace is its reclaim. */
    reclaim: z.boolean().optional(),
  }),
  reclaim: z.object({ ...target, ...clientFields }),
  reclaim_complete: z.object({ ...target, ...clientFields }),
  grace_done: z.object({ ...target, wait: z.boolean().optional() }),
  may_grant: z.object({ ...target }),
  status: z.object({ ...target }),
} as const;

export type OpName = keyof typeof OpSchemas;
export const OP_NAMES = Object.keys(OpSchemas) as OpName[];
export type OpRequest<O extends OpName> = z.infer<(typeof OpSchemas)[O]>;
export type AnyRequest = { [O in OpName]: { op: O } & OpRequest<O> }[OpName];

/** A status the agent answers with: NFS4 names, plus ERR_BAD_REQUEST for input it cannot parse. */
export type AgentStatus =
  | 'OK'
  | 'NFS4ERR_GRACE'
  | 'NFS4ERR_NO_GRACE'
  | 'NFS4ERR_RECLAIM_BAD'
  | 'NFS4ERR_COMPLETE_ALREADY'
  /** The event store did not answer in time or refused: nothing is promised, retry later. */
  | 'NFS4ERR_DELAY'
  | 'ERR_BAD_REQUEST';

/** One reply; on the JSON socket it also carries the request's `id` (null when it had none usable). */
export interface AgentReply {
  id?: AgentRequestId | null;
  status: AgentStatus;
  error?: string;
  [field: string]: unknown;
}

/**
 * A request's `id` is echoed in its reply, so it must be small and cheap to write back: a string
 * of at most this many characters or a finite number. Anything else (objects, arrays nested
 * thousands deep) is refused with ERR_BAD_REQUEST and `id: null`.
 */
export const MAX_REQUEST_ID_CHARS = 256;
export type AgentRequestId = string | number;

export type RequestIdRead = { ok: true; id: AgentRequestId | null } | { ok: false; error: string };

/** The `id` of one decoded request line: absent is null; a usable one is echoed as it came. */
export function readRequestId(body: unknown): RequestIdRead {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: true, id: null };
  const id = (body as { id?: unknown }).id;
  if (id === undefined || id === null) return { ok: true, id: null };
  if (typeof id === 'number' && Number.isFinite(id)) return { ok: true, id };
  if (typeof id === 'string' && id.length <= MAX_REQUEST_ID_CHARS) return { ok: true, id };
  return { ok: false, error: `"id" must be a string of at most ${MAX_REQUEST_ID_CHARS} characters or a finite number` };
}

export type ParsedRequest = { ok: true; request: AnyRequest } | { ok: false; error: string };

/** Validates one decoded request object (its `id` is read by `readRequestId`). */
export function parseAgentRequest(body: unknown): ParsedRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, error: 'a request must be a JSON object' };
  const { op, id: _id, ...fields } = body as Record<string, unknown>;
  if (typeof op !== 'string') return { ok: false, error: '"op" must be a string' };
  if (!Object.hasOwn(OpSchemas, op)) return { ok: false, error: `unknown op ${JSON.stringify(op).slice(0, 80)}; known: ${OP_NAMES.join(', ')}` };
  const parsed = OpSchemas[op as OpName].safeParse(fields);
  if (!parsed.success) return { ok: false, error: `${op}: ${zodProblemText(parsed.error, op)}` };
  return { ok: true, request: { op, ...parsed.data } as AnyRequest };
}
