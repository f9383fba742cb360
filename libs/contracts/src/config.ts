import { z } from 'zod';
import { NodeIdSchema } from './ids';

/**
 * What the coordinator does once an identity's serving host has been silent past `deadAfterMs`
 * (no heartbeat from its agent): `wait` reports it only; `start-grace` starts (or joins) grace for
 * the identity at once, as if it had restarted; `move` moves it to the `standby` host.
 */
export const LivenessPolicySchema = z.enum(['wait', 'start-grace', 'move']);
export type LivenessPolicy = z.infer<typeof LivenessPolicySchema>;

const livenessFields = {
  /** Silence (no heartbeat from the identity's serving host) longer than this makes it silent. */
  deadAfterMs: z.number().int().min(100).max(86_400_000),
  policy: LivenessPolicySchema,
  /** The host `move` moves a silent identity to: a member (or the host of one). */
  standby: NodeIdSchema.optional(),
};

export const LivenessConfigSchema = z.object(livenessFields).strict()
  .refine((c) => c.policy !== 'move' || c.standby !== undefined, { message: 'liveness policy move needs a standby host', path: ['standby'] });
export type LivenessConfig = z.infer<typeof LivenessConfigSchema>;

/** Per-cluster grace configuration; recorded in `ClusterConfigured` events so replays see it. */
export const GraceConfigSchema = z.object({
  /** NFSv4 lease time; also how far one reclaim pushes the deadline (knfsd extends by a lease). */
  leaseTimeMs: z.number().int().positive(),
  /** How long a grace period lasts when nobody finishes early; the deadline never passes 2x this. */
  graceTimeMs: z.number().int().positive(),
  /** `abandon`: at the deadline, members still needing grace are abandoned. `wait`: never end while one needs grace. */
  deadlinePolicy: z.enum(['abandon', 'wait']),
  /** `all-clear`: no grants before R = 0. `first-exit`: a finished node may grant and that ends recovery for all. */
  exitPolicy: z.enum(['all-clear', 'first-exit']),
  /** Dead-host detection; absent: none (no identity is ever reported silent). */
  liveness: LivenessConfigSchema.optional(),
}).strict();
export type GraceConfig = z.infer<typeof GraceConfigSchema>;

/**
 * A `configure` change: any field of the configuration; `liveness` merges field by field into the
 * one in force (a new one starts from policy `wait`), and `null` turns detection off.
 */
export const GraceConfigChangeSchema = GraceConfigSchema.partial().extend({
  liveness: z.object(livenessFields).partial().strict().nullable().optional(),
}).strict();
export type GraceConfigChange = z.infer<typeof GraceConfigChangeSchema>;

export const DEFAULT_GRACE_CONFIG: GraceConfig = Object.freeze({
  leaseTimeMs: 90_000,
  graceTimeMs: 90_000,
  deadlinePolicy: 'abandon',
  exitPolicy: 'all-clear',
});
