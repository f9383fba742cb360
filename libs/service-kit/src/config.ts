import { z } from 'zod';
import { isValidToken, zodProblems } from '#contracts';

/** Raised once at start-up with every problem found, so an operator fixes them in one go. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * Validates `source` (usually process.env merged with command-line flags) against `schema`.
 * Keys of the schema are the environment variable names, so errors name what to fix.
 */
export function loadConfig<S extends z.ZodType>(schema: S, source: Record<string, string | undefined> = process.env): z.infer<S> {
  const parsed = schema.safeParse(source);
  if (parsed.success) return parsed.data;
  throw new ConfigError(zodProblems(parsed.error, '(root)'));
}

/** Reusable variable schemas, each with its default and a clear message. */
export const env = {
  natsUrl: z.string().default('nats://127.0.0.1:4222').refine((s) => s.split(',').every((u) => /^(nats|tls|ws|wss):\/\/\S+$/.test(u.trim())), 'must be nats://host:port (comma-separated for several)'),
  prefix: z.string().default('gk').refine(isValidToken, 'letters, digits, _ and - only'),
  cluster: z.string().default('default').refine(isValidToken, 'letters, digits, _ and - only'),
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  optionalToken: z.string().min(8, 'at least 8 characters').optional(),
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\/\S+$/, 'must be postgres://user@host:port/database'),
  positiveMs: (fallback: number) => z.coerce.number().int().positive().default(fallback),
};
