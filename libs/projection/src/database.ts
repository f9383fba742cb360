import { Client } from 'pg';
import { DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import { CONTROL_SCHEMA, controlDdl, LOCK_SQL } from './control';

/** The control schema (which generation of each read model is live). */
export class RegistryControl1767225600000 implements MigrationInterface {
  name = 'RegistryControl1767225600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(controlDdl);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP SCHEMA IF EXISTS ${CONTROL_SCHEMA} CASCADE`);
  }
}

export const REGISTRY_MIGRATIONS = [RegistryControl1767225600000];

/**
 * The registry's TypeORM DataSource: migrations, never `synchronize`. The read model's tables
 * are not entities: they are generations built by replay (ddl.ts), read with SQL.
 */
export function registryDataSource(url: string, options: { poolSize?: number; applicationName?: string } = {}): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    migrations: REGISTRY_MIGRATIONS,
    migrationsTableName: 'gk_registry_migrations',
    synchronize: false,
    entities: [],
    poolSize: options.poolSize ?? 10,
    applicationName: options.applicationName ?? 'gk-client-registry',
  });
}

/**
 * Runs the registry's migrations once, even with several replicas and gracectl starting at the
 * same moment (a session advisory lock serialises them).
 */
export async function migrateRegistry(url: string): Promise<void> {
  const lock = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  lock.on('error', () => undefined);
  await lock.connect();
  try {
    await lock.query(LOCK_SQL.migrations);
    const ds = registryDataSource(url, { poolSize: 1, applicationName: 'gk-registry-migrations' });
    await ds.initialize();
    try {
      await ds.runMigrations({ transaction: 'all' });
    } finally {
      await ds.destroy();
    }
  } finally {
    await lock.end().catch(() => undefined);
  }
}

/** A dedicated connection that reports a lost server instead of crashing the process. */
export async function connectClient(url: string, applicationName: string, onError?: (err: Error) => void): Promise<Client> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: applicationName, keepAlive: true });
  client.on('error', (err) => onError?.(err));
  await client.connect();
  return client;
}
