import { hostname } from 'node:os';
import { z } from 'zod';
import { env, loadConfig, type LoadConfigOptions } from '#service-kit';

/** The registry's environment; every problem is reported at once (service-kit loadConfig). */
export const RegistryEnvSchema = z.object({
  NATS_URL: env.natsUrl,
  GK_PREFIX: env.prefix,
  DATABASE_URL: env.databaseUrl,
  GK_ADMIN_PORT: env.port(8082),
  GK_ADMIN_HOST: z.string().optional(),
  /** Changes (and reads); or GK_ADMIN_TOKEN_FILE. */
  GK_ADMIN_TOKEN: env.optionalToken,
  /** When set, reads need it (or the admin token); or GK_READ_TOKEN_FILE. */
  GK_READ_TOKEN: env.optionalToken,
  /** This replica's name in logs, connection names and the projector lock's holder. */
  GK_REPLICA: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, '1-64 of letters, digits and _ . : -').optional(),
  /** Events per projection transaction at most. */
  GK_REGISTRY_BATCH_EVENTS: z.coerce.number().int().min(1).max(100_000).default(5000),
  /** How often a standby replica tries to take over, in ms. */
  GK_REGISTRY_LOCK_POLL_MS: env.positiveMs(500),
  GK_QUIET: z.enum(['0', '1']).optional(),
});

export interface RegistryConfig {
  natsUrl: string;
  prefix: string;
  databaseUrl: string;
  port: number;
  host?: string;
  adminToken?: string;
  readToken?: string;
  replica: string;
  batchEvents: number;
  lockPollMs: number;
  quiet: boolean;
}

export function registryConfig(source: Record<string, string | undefined> = process.env, options: LoadConfigOptions = {}): RegistryConfig {
  const e = loadConfig(RegistryEnvSchema, source, options);
  return {
    natsUrl: e.NATS_URL,
    prefix: e.GK_PREFIX,
    databaseUrl: e.DATABASE_URL,
    port: e.GK_ADMIN_PORT,
    host: e.GK_ADMIN_HOST,
    adminToken: e.GK_ADMIN_TOKEN,
    readToken: e.GK_READ_TOKEN,
    replica: e.GK_REPLICA ?? `${hostname().replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 40)}-${process.pid}`,
    batchEvents: e.GK_REGISTRY_BATCH_EVENTS,
    lockPollMs: e.GK_REGISTRY_LOCK_POLL_MS,
    quiet: e.GK_QUIET === '1',
  };
}
