import { quoteIdent } from './ddl';
import type { Sql } from './control';

/** Every table of a generation with its key order; wall-clock columns left out. */
const TABLES: { table: string; order: string; except?: string[] }[] = [
  { table: 'checkpoint', order: 'id', except: ['updated_at'] },
  { table: 'clusters', order: 'cluster' },
  { table: 'nodes', order: 'cluster, node' },
  { table: 'client_records', order: 'cluster, node, client' },
  { table: 'grace_periods', order: 'cluster, recovery_epoch' },
  { table: 'audit_events', order: 'sequence, idx' },
  { table: 'malformed_events', order: 'sequence' },
  { table: 'outbox', order: 'id' },
];

/**
 * The whole content of a read-model generation as comparable rows (each row as its JSON text,
 * computed by PostgreSQL so that types compare exactly). Two generations built from the same
 * events must give identical dumps, whatever crashed in between.
 */
export async function dumpReadModel(sql: Sql, schema: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const { table, order, except } of TABLES) {
    // to_jsonb normalises the json column, so equal events compare equal however they were spaced.
    const select = except ? `to_jsonb(t) - ${except.map((c) => `'${c}'`).join(' - ')}` : 'to_jsonb(t)';
    const rows = await sql<{ row: string }>(`SELECT (${select})::text AS row FROM ${quoteIdent(schema)}.${table} t ORDER BY ${order}`);
    out[table] = rows.map((r) => r.row);
  }
  return out;
}

/** The first differences between two dumps, for a readable test failure. */
export function diffDumps(a: Record<string, string[]>, b: Record<string, string[]>, max = 10): string[] {
  const out: string[] = [];
  for (const table of Object.keys(a)) {
    const x = a[table] ?? [];
    const y = b[table] ?? [];
    if (x.length !== y.length) out.push(`${table}: ${x.length} rows vs ${y.length}`);
    const setY = new Set(y);
    const setX = new Set(x);
    const cut = (row: string) => (row.length > 400 ? `${row.slice(0, 400)}…` : row);
    for (const row of x) if (!setY.has(row) && out.length < max) out.push(`${table}: only in first: ${cut(row)}`);
    for (const row of y) if (!setX.has(row) && out.length < max) out.push(`${table}: only in second: ${cut(row)}`);
  }
  return out;
}
