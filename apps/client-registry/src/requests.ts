import { z } from 'zod';
import { parseRpcRequest } from '#service-kit';
import { ClientIdSchema, NodeIdSchema } from '#contracts';

const atLeast = {
  /**
   * Answer only once the read model reflects this stream sequence (e.g. the sequence of a
   * decision the caller just made); waits up to `waitMs` (default 5000), then answers UNAVAILABLE.
   */
  atLeast: z.number().int().nonnegative().optional(),
  waitMs: z.number().int().positive().max(60_000).optional(),
  ...tokenField(),
};

/**
 * The read token, for queries over NATS when one is configured (REST takes it as the bearer
 * token); the admin token is accepted too. Never logged or echoed.
 */
function tokenField() {
  return { token: z.string().max(1024).optional() };
}

/** A registry query, over NATS (`subjects.registryRequests`) or REST. All are reads. */
export const RegistryRequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('reclaimable'), node: NodeIdSchema, client: ClientIdSchema, ...atLeast }).strict(),
  z.object({ op: z.literal('reclaimableClients'), node: NodeIdSchema, ...atLeast }).strict(),
  z.object({
    op: z.literal('clients'),
    node: NodeIdSchema.optional(),
    epoch: z.number().int().positive().optional(),
    valid: z.boolean().optional(),
    limit: z.number().int().positive().max(10_000).optional(),
    after: z.object({ node: NodeIdSchema, client: ClientIdSchema }).strict().optional(),
    ...atLeast,
  }).strict(),
  z.object({ op: z.literal('client'), client: ClientIdSchema, ...atLeast }).strict(),
  z.object({ op: z.literal('gracePeriods'), ...atLeast }).strict(),
  z.object({ op: z.literal('cluster'), ...atLeast }).strict(),
  z.object({ op: z.literal('audit'), client: ClientIdSchema.optional(), node: NodeIdSchema.optional(), epoch: z.number().int().positive().optional(), limit: z.number().int().positive().max(100_000).optional(), ...atLeast }).strict()
    .refine((r) => [r.client, r.node, r.epoch].filter((x) => x !== undefined).length === 1, 'audit needs exactly one of client, node, epoch'),
  z.object({ op: z.literal('projection'), ...tokenField() }).strict(),
]);
export type RegistryRequest = z.infer<typeof RegistryRequestSchema>;

export type RegistryErrorCode = 'BAD_REQUEST' | 'UNAUTHORIZED' | 'NO_READ_MODEL' | 'UNAVAILABLE' | 'INTERNAL';

export type RegistryReply =
  | ({ ok: true } & Record<string, unknown>)
  | { ok: false; code: RegistryErrorCode; error: string };

/** Parses an untrusted request; never throws. */
export function parseRegistryRequest(raw: unknown): { ok: true; request: RegistryRequest } | { ok: false; reply: RegistryReply } {
  return parseRpcRequest(RegistryRequestSchema, raw);
}
