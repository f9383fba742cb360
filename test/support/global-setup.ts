// Loaded by jest outside its module registry, so no '#infra' mapping here: relative imports only.
import { createTestDatabase, ensureNats, ensurePostgres, redactUrl } from '../../libs/infra/src';
import { rememberRunInfra } from './run-infra';

interface GlobalConfigSubset {
  selectProjects?: string[];
}

const log = (message: string) => process.stderr.write(`[gk test infra] ${message}\n`);

/**
 * Once per jest run: find or start NATS and PostgreSQL, create this run's own database, and hand
 * both to the workers through the environment (workers are forked after this runs).
 */
export default async function globalSetup(globalConfig: GlobalConfigSubset): Promise<void> {
  // `npm run test:unit` must not need NATS or PostgreSQL.
  if (globalConfig.selectProjects && !globalConfig.selectProjects.includes('integration')) return;

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
  log(`NATS ${nats.url}, database ${redactUrl(database.url)}`);
}
