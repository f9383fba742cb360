import { hostname } from 'node:os';
import { z } from 'zod';
import { isValidToken } from '#contracts';
import { env, loadConfig, type LoadConfigOptions } from '#service-kit';

/** The coordinator's environment; every problem is reported at once (service-kit loadConfig). */
export const CoordinatorEnvSchema = z.object({
  NATS_URL: env.natsUrl,
  GK_PREFIX: env.prefix,
  GK_CLUSTER: env.cluster,
  /** Several clusters served by one process, comma-separated; overrides GK_CLUSTER. */
  GK_CLUSTERS: z.string().optional().refine((v) => v === undefined || v.split(',').map((s) => s.trim()).filter(Boolean).every(isValidToken), 'comma-separated cluster ids: letters, digits, _ and -'),
  GK_ADMIN_PORT: env.port(8081),
  GK_ADMIN_HOST: z.string().optional(),
  /** Changes (and reads); or GK_ADMIN_TOKEN_FILE. */
  GK_ADMIN_TOKEN: env.optionalToken,
  /** When set, reads need it (or the admin token); or GK_READ_TOKEN_FILE. */
  GK_READ_TOKEN: env.optionalToken,
  /** This replica's name in event actors and NATS connection names. */
  GK_REPLICA: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, '1-64 of letters, digits and _ . : -').optional(),
  GK_QUIET: z.enum(['0', '1']).optional(),
});

export interface CoordinatorConfig {
  natsUrl: string;
  prefix: string;
  clusters: string[];
  port: number;
  host?: string;
  adminToken?: string;
  readToken?: string;
  replica: string;
  quiet: boolean;
}

export function coordinatorConfig(source: Record<string, string | undefined> = process.env, options: LoadConfigOptions = {}): CoordinatorConfig {
  const e = loadConfig(CoordinatorEnvSchema, source, options);
  const clusters = e.GK_CLUSTERS ? [...new Set(e.GK_CLUSTERS.split(',').map((s) => s.trim()).filter(Boolean))] : [e.GK_CLUSTER];
  return {
    natsUrl: e.NATS_URL,
    prefix: e.GK_PREFIX,
    clusters,
    port: e.GK_ADMIN_PORT,
    host: e.GK_ADMIN_HOST,
    adminToken: e.GK_ADMIN_TOKEN,
    readToken: e.GK_READ_TOKEN,
    replica: e.GK_REPLICA ?? `${hostname().replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 40)}-${process.pid}`,
    quiet: e.GK_QUIET === '1',
  };
}
