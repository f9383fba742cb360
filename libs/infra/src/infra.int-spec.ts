import { existsSync } from 'node:fs';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Client } from 'pg';
import {
  canConnect,
  checkNats,
  checkPostgres,
  createTestDatabase,
  dropDatabase,
  ensureNats,
  ensurePostgres,
  freePort,
  sleep,
  startNatsCluster,
  startNatsServer,
  uniquePrefix,
} from '#infra';
import { cleanupStream, testDatabaseUrl, testNatsUrl, testStreamNames } from '#testing';

/** Runs `work` with env vars removed, so ensure*() falls through to its local/started paths. */
async function withoutEnv<T>(names: string[], work: () => Promise<T>): Promise<T> {
  const saved = names.map((name) => [name, process.env[name]] as const);
  for (const name of names) delete process.env[name];
  try {
    return await work();
  } finally {
    for (const [name, value] of saved) if (value !== undefined) process.env[name] = value;
  }
}

async function roundTrip(nc: NatsConnection, stream: string, replicas = 1): Promise<number> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`], num_replicas: replicas });
  const ack = await jetstream(nc).publish(`${stream}.x`, 'hello');
  return ack.seq;
}

async function databaseExists(baseUrl: string, name: string): Promise<boolean> {
  const client = new Client({ connectionString: baseUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    return rowCount === 1;
  } finally {
    await client.end();
  }
}

describe('NATS', () => {
  it('uses an explicitly configured server with JetStream and stops nothing', async () => {
    const handle = await ensureNats({ url: testNatsUrl() });
    expect(handle).toMatchObject({ url: testNatsUrl(), started: false });
    await handle.stop();
    await checkNats(testNatsUrl());
  });

  it('names the source of a configured URL that does not answer', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    await expect(ensureNats({ url })).rejects.toThrow(/the url option.*JetStream enabled/s);
    await withoutEnv(['NATS_URL'], async () => {
      process.env.NATS_URL = url;
      await expect(ensureNats()).rejects.toThrow(/from NATS_URL/);
    });
  });

  it('starts a private nats-server when nothing is configured or running locally', async () => {
    const unused = `nats://127.0.0.1:${await freePort()}`;
    const handle = await withoutEnv(['NATS_URL'], () => ensureNats({ localUrl: unused }));
    try {
      expect(handle.started).toBe(true);
      expect(handle.url).not.toBe(unused);
      await checkNats(handle.url);
    } finally {
      await handle.stop();
    }
    await expect(checkNats(handle.url, 500)).rejects.toThrow();
  });

  it('starts, kills, restarts and stops its own server, keeping JetStream data across the restart', async () => {
    const server = await startNatsServer();
    try {
      let nc = await connect({ servers: server.url });
      expect(await roundTrip(nc, 'INFRA_RESTART')).toBe(1);
      await nc.close();

      await server.kill('SIGKILL');
      expect(server.isRunning()).toBe(false);
      expect(await canConnect('127.0.0.1', server.port)).toBe(false);

      await server.restart();
      nc = await connect({ servers: server.url });
      const info = await (await jetstreamManager(nc)).streams.info('INFRA_RESTART');
      expect(info.state.messages).toBe(1);
      await nc.close();
    } finally {
      await server.stop();
    }
    expect(existsSync(server.storeDir)).toBe(false);
  });

  it('pauses a server with SIGSTOP and resumes it with SIGCONT', async () => {
    const server = await startNatsServer();
    try {
      await server.kill('SIGSTOP');
      await expect(checkNats(server.url, 500)).rejects.toThrow();
      await server.kill('SIGCONT');
      await checkNats(server.url);
    } finally {
      await server.stop();
    }
  });

  it('runs a 3-node JetStream cluster whose replicated stream survives losing a node', async () => {
    const cluster = await startNatsCluster({ size: 3 });
    const nc = await connect({ servers: cluster.url.split(',') });
    try {
      expect(await roundTrip(nc, 'INFRA_R3', 3)).toBe(1);
      await cluster.servers[0].kill('SIGKILL');
      // Until the remaining two elect a new stream leader, publishes get "no responders": retry.
      const js = jetstream(nc, { timeout: 2000 });
      const deadline = Date.now() + 20_000;
      let seq = 0;
      while (!seq) {
        try {
          seq = (await js.publish('INFRA_R3.x', 'still here')).seq;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await sleep(250);
        }
      }
      expect(seq).toBe(2);
    } finally {
      await nc.close();
      await cluster.stop();
    }
  }, 60_000);

  it('gives tests stream names that are unique and deletable', async () => {
    const names = testStreamNames('infra');
    expect(names.prefix).toMatch(/^gkt_infra_[0-9a-f]{8}$/);
    expect(testStreamNames('infra').prefix).not.toBe(names.prefix);
    expect(uniquePrefix('Some Label/with.dots')).toMatch(/^gkt_some_label_with_dots_[0-9a-f]{8}$/);

    const nc = await connect({ servers: testNatsUrl() });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: names.stream, subjects: [`${names.prefix}.>`] });
      await cleanupStream(nc, names);
      await expect(jsm.streams.info(names.stream)).rejects.toThrow(/stream not found/i);
      await cleanupStream(nc, names); // already gone: still fine
    } finally {
      await nc.close();
    }
  });
});

describe('PostgreSQL', () => {
  it('uses an explicitly configured server and stops nothing', async () => {
    const handle = await ensurePostgres({ url: testDatabaseUrl() });
    expect(handle).toMatchObject({ url: testDatabaseUrl(), started: false });
    await handle.stop();
    await checkPostgres(testDatabaseUrl());
  });

  it('names the source of a configured URL that does not answer', async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/nope`;
    await expect(ensurePostgres({ url })).rejects.toThrow(/the url option.*select 1/s);
    await withoutEnv(['DATABASE_URL'], async () => {
      process.env.DATABASE_URL = url;
      await expect(ensurePostgres()).rejects.toThrow(/from DATABASE_URL/);
    });
  });

  it('creates and drops a database, even while a client is still connected to it', async () => {
    const db = await createTestDatabase(testDatabaseUrl());
    expect(db.name).toMatch(/^gk_test_[0-9a-f]{12}$/);
    const client = new Client({ connectionString: db.url });
    client.on('error', () => undefined); // the forced drop disconnects it
    await client.connect();
    await client.query('create table t (id int primary key)');
    try {
      await dropDatabase(testDatabaseUrl(), db.name);
      expect(await databaseExists(testDatabaseUrl(), db.name)).toBe(false);
      await dropDatabase(testDatabaseUrl(), db.name); // already gone: still fine
    } finally {
      await client.end().catch(() => undefined);
    }
    await expect(createTestDatabase(testDatabaseUrl(), 'Robert"); drop table x;--')).rejects.toThrow(/invalid database name/);
  });

  it('starts an embedded PostgreSQL when nothing is configured or running locally, and removes it on stop', async () => {
    const unused = `postgres://postgres@127.0.0.1:${await freePort()}/test`;
    const handle = await withoutEnv(['DATABASE_URL'], () => ensurePostgres({ localUrl: unused }));
    try {
      expect(handle.started).toBe(true);
      const db = await createTestDatabase(handle.url);
      await checkPostgres(db.url);
      await dropDatabase(handle.url, db.name);
    } finally {
      await handle.stop();
    }
    await expect(checkPostgres(handle.url, 1000)).rejects.toThrow();
  }, 120_000);
});
