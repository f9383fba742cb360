import { z } from 'zod';

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
}).strict();
export type GraceConfig = z.infer<typeof GraceConfigSchema>;

export const DEFAULT_GRACE_CONFIG: GraceConfig = Object.freeze({
  leaseTimeMs: 90_000,
  graceTimeMs: 90_000,
  deadlinePolicy: 'abandon',
  exitPolicy: 'all-clear',
});
