import { quoteIdent } from './ddl';

/**
 * The control schema: which generation of each read model is live. It is the only part of the
 * database that is migrated in place (TypeORM migration `RegistryControl`); everything else is a
 * generation built from the events.
 */
export const CONTROL_SCHEMA = 'gk_registry';

export const controlDdl = `
CREATE SCHEMA IF NOT EXISTS ${CONTROL_SCHEMA};
CREATE TABLE IF NOT EXISTS ${CONTROL_SCHEMA}.read_models (
  name text PRIMARY KEY,
  schema text NOT NULL,
  generation integer NOT NULL,
  version integer NOT NULL,
  swapped_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS ${CONTROL_SCHEMA}.generations (
  name text NOT NULL,
  generation integer NOT NULL,
  schema text NOT NULL,
  version integer NOT NULL,
  state text NOT NULL CHECK (state IN ('building', 'live', 'retired')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, generation)
);
`;

/** Anything that runs a parameterised statement and returns rows: a pg Client or Pool, a TypeORM manager. */
export type Sql = <T = Record<string, unknown>>(text: string, params?: unknown[]) => Promise<T[]>;

export function sqlOf(runner: { query(text: string, params?: unknown[]): Promise<unknown> }): Sql {
  return async <T>(text: string, params?: unknown[]) => {
    const result = await runner.query(text, params);
    // pg returns {rows}; TypeORM's manager returns the rows themselves.
    return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
  };
}

export interface LivePointer {
  schema: string;
  generation: number;
  version: number;
}

export async function readPointer(sql: Sql, name: string, lock?: 'FOR SHARE' | 'FOR UPDATE'): Promise<LivePointer | undefined> {
  const rows = await sql<LivePointer>(
    `SELECT schema, generation, version FROM ${CONTROL_SCHEMA}.read_models WHERE name = $1 ${lock ?? ''}`,
    [name],
  );
  return rows[0];
}

/** Advisory-lock keys (bigint) for the one live projector of a read model and for rebuilds. */
export const LOCK_SQL = {
  projector: `SELECT pg_try_advisory_lock(hashtextextended('gk-registry-projector:' || $1, 0)) AS locked`,
  rebuild: `SELECT pg_try_advisory_lock(hashtextextended('gk-registry-rebuild:' || $1, 0)) AS locked`,
  unlockRebuild: `SELECT pg_advisory_unlock(hashtextextended('gk-registry-rebuild:' || $1, 0))`,
  migrations: `SELECT pg_advisory_lock(hashtextextended('gk-registry-migrations', 0))`,
  unlockMigrations: `SELECT pg_advisory_unlock(hashtextextended('gk-registry-migrations', 0))`,
};

/** Drops generations that are neither live nor the one just retired (kept for readers mid-query). */
export async function dropOldGenerations(sql: Sql, name: string, keepGenerations: number[]): Promise<string[]> {
  const rows = await sql<{ schema: string; generation: number }>(
    `SELECT schema, generation FROM ${CONTROL_SCHEMA}.generations WHERE name = $1 AND state = 'retired' AND NOT (generation = ANY($2::int[]))`,
    [name, keepGenerations],
  );
  for (const row of rows) {
    await sql(`DROP SCHEMA IF EXISTS ${quoteIdent(row.schema)} CASCADE`);
    await sql(`DELETE FROM ${CONTROL_SCHEMA}.generations WHERE name = $1 AND generation = $2`, [name, row.generation]);
  }
  return rows.map((r) => r.schema);
}
