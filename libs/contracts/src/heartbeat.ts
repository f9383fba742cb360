import { z } from 'zod';
import { ClusterIdSchema, NodeIdSchema } from './ids';
import { err, ok, Result } from './result';

/**
 * An agent's heartbeat (core NATS, `subjects.heartbeats`): host `host` is alive and serves these
 * identities. Never stored: the coordinator keeps the last one per identity, on its own monotonic
 * clock. `sentAt` (the agent's wall clock) is for measurements only, never for a decision (I7).
 */
export const HeartbeatSchema = z.object({
  kind: z.literal('gk.heartbeat'),
  v: z.literal(1),
  cluster: ClusterIdSchema,
  host: NodeIdSchema,
  identities: z.array(NodeIdSchema).min(1).max(1000),
  /** Counts up from 0 per agent start. */
  seq: z.number().int().nonnegative(),
  sentAt: z.number().int().nonnegative(),
}).strict();
export type Heartbeat = z.infer<typeof HeartbeatSchema>;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeHeartbeat(h: Heartbeat): Uint8Array {
  return encoder.encode(JSON.stringify(h));
}

/** Never throws: anything that is not a well-formed heartbeat is a typed error to count and drop. */
export function decodeHeartbeat(data: Uint8Array): Result<Heartbeat, string> {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch (e) {
    return err(`not UTF-8 JSON: ${(e as Error).message}`);
  }
  const parsed = HeartbeatSchema.safeParse(raw);
  return parsed.success ? ok(parsed.data) : err(z.prettifyError(parsed.error));
}
