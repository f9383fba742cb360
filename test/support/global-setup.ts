import './lib-imports';
import { createTestDatabase, ensureNats, ensurePostgres, redactUrl } from '#infra';
import { rememberRunInfra } from './run-infra';

const log = (message: string) => process.stderr.write(`[gk test infra] ${message}\n`);

/** The jest projects whose tests talk to NATS and PostgreSQL. */
const NEEDS_INFRA = ['integration', 'browser'];

/**
 * Once per jest run: find or start NATS and PostgreSQL, create this run's own database, and hand
 * both to the workers through the environment (workers are forked after this runs).
 */
export default async function globalSetup(): Promise<void> {
  // `npm run test:unit` must not need NATS or PostgreSQL; the browser tests run a real cluster.
  const projects = selectedProjects(process.argv);
  if (projects && !projects.some((p) => NEEDS_INFRA.includes(p))) return;

  const nats = await ensureNats({ log });
  let postgres;
  try {
    postgres = await ensurePostgres({ log });
  } catch (err) {
    await nats.stop();
    throw err;
  }
  let database;
  try {
    database = await createTestDatabase(postgres.url);
  } catch (err) {
    await Promise.all([postgres.stop(), nats.stop()]);
    throw err;
  }
  rememberRunInfra({ nats, postgres, database });

  process.env.GK_TEST_NATS_URL = nats.url;
  process.env.GK_TEST_DATABASE_URL = database.url;
  // Code under test that calls ensureNats()/ensurePostgres() itself lands on the same servers.
  process.env.NATS_URL = nats.url;
  process.env.DATABASE_URL = database.url;
  // Tests run in development mode (docs/security.md): their streams are created on demand. Tests of
  // production behaviour (missing stream, auth) set their own environment.
  process.env.GK_DEV_MODE = '1';
  log(`NATS ${nats.url}, database ${redactUrl(database.url)}`);
}

/**
 * The names given to `--selectProjects`, read from the command line because jest does not pass
 * them to global setup. Like jest's own parser, the option takes every argument up to the next flag.
 */
function selectedProjects(argv: string[]): string[] | undefined {
  const at = argv.findIndex((arg) => arg === '--selectProjects' || arg.startsWith('--selectProjects='));
  if (at < 0) return undefined;
  const inline = argv[at].split('=')[1];
  if (inline !== undefined) return inline.split(',');
  const names: string[] = [];
  for (const arg of argv.slice(at + 1)) {
    if (arg.startsWith('-')) break;
    names.push(arg);
  }
  return names;
}
