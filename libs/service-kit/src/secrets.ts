import { readFileSync } from 'node:fs';

/**
 * Settings that hold a secret. Each may be given as `<NAME>_FILE=/path` instead (the convention of
 * Docker secrets, Kubernetes Secret volumes and systemd's LoadCredential=): the file is read at
 * start-up, so the secret is in neither argv nor the environment, which other processes of the same
 * user can read in /proc. Other variables ending in _FILE (GK_END_GRACE_FILE) are ordinary settings.
 */
export const SECRET_VARIABLES = ['GK_ADMIN_TOKEN', 'GK_READ_TOKEN', 'DATABASE_URL'] as const;
export type SecretVariable = (typeof SECRET_VARIABLES)[number];

/** Secrets that should come from a file outside development (a database URL may carry none). */
const WARN_WHEN_DIRECT: readonly SecretVariable[] = ['GK_ADMIN_TOKEN', 'GK_READ_TOKEN'];

export interface SecretFiles {
  /** `source` with each `<NAME>_FILE` read into `<NAME>` (and the `_FILE` entry removed). */
  env: Record<string, string | undefined>;
  /** Every problem found (both forms given, unreadable or empty file), for one ConfigError. */
  problems: string[];
  /** Secrets given directly: fine for development, said once at start-up. */
  warnings: string[];
}

/** Reads the secret files among `names` (default: all of SECRET_VARIABLES); never throws. */
export function readSecretFiles(
  source: Record<string, string | undefined>,
  names: readonly string[] = SECRET_VARIABLES,
  readFile: (file: string) => string = (file) => readFileSync(file, 'utf8'),
): SecretFiles {
  const env = { ...source };
  const problems: string[] = [];
  const warnings: string[] = [];
  const given = (v: string | undefined) => v !== undefined && v !== '';
  for (const name of SECRET_VARIABLES.filter((n) => names.includes(n))) {
    const file = source[`${name}_FILE`];
    delete env[`${name}_FILE`];
    if (!given(file)) {
      if (given(source[name]) && WARN_WHEN_DIRECT.includes(name)) {
        warnings.push(`${name} is given directly (environment or command line), where other processes can read it: use ${name}_FILE outside development`);
      }
      continue;
    }
    if (given(source[name])) {
      problems.push(`${name} and ${name}_FILE are both set: keep one`);
      continue;
    }
    let value: string;
    try {
      value = readFile(file!).replace(/\r?\n$/, '');
    } catch (err) {
      problems.push(`${name}_FILE: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      continue;
    }
    if (value === '') problems.push(`${name}_FILE: ${file} is empty`);
    else env[name] = value;
  }
  return { env, problems, warnings };
}
