import { z } from 'zod';
import { isValidToken, zodProblems } from '#contracts';
import { readSecretFiles } from './secrets';

/** Raised once at start-up with every problem found, so an operator fixes them in one go. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export interface LoadConfigOptions {
  /** Where a warning about the configuration goes (a token given directly); default stderr. */
  warn?(message: string): void;
}

/**
 * Validates `source` (usually process.env merged with command-line flags) against `schema`.
 * Keys of the schema are the environment variable names, so errors name what to fix. Secrets of
 * the schema may be given as files (`GK_ADMIN_TOKEN_FILE`, see secrets.ts).
 */
export function loadConfig<S extends z.ZodType>(schema: S, source: Record<string, string | undefined> = process.env, options: LoadConfigOptions = {}): z.infer<S> {
  const keys = schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
  const secrets = readSecretFiles(source, keys);
  const warn = options.warn ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
  for (const w of secrets.warnings) warn(w);
  const parsed = schema.safeParse(secrets.env);
  const problems = [...secrets.problems, ...(parsed.success ? [] : zodProblems(parsed.error, '(root)'))];
  if (problems.length || !parsed.success) throw new ConfigError(problems);
  return parsed.data;
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
