import { Client, Pool } from 'pg';
import { openGraceStore, type OpenedStore } from '#cluster-store';
import { cleanupStream, testDatabaseUrl, testNatsUrl, testStreamNames } from '#testing';
import { pgClient, publishWorkload, waitUntil, workload } from '../test/support';
import {
  diffDumps, dumpReadModel, lastEventSequence, migrateRegistry, poolReadTransaction, Projector, ReadModelQueries, readModelName, readPointer,
  rebuildReadModel, sqlOf, type RebuildProgress,
} from './index';

jest.setTimeout(240_000);
const names = testStreamNames('replay');
const name = readModelName(names.stream);
let opened: OpenedStore;
let db: Client;
let pool: Pool;

beforeAll(async () => {
  opened = await openGraceStore({ natsUrl: testNatsUrl(), names, name: 'replay-test' });
  await migrateRegistry(testDatabaseUrl());
  db = await pgClient(testDatabaseUrl());
  pool = new Pool({ connectionString: testDatabaseUrl(), max: 4 });
});
afterAll(async () => {
  await cleanupStream(opened.nc, names);
  await opened.close();
  await db.end();
  await pool.end();
});

describe('replay', () => {
  it('rebuilds 20,000 events into a new generation and swaps it in while the live projection serves and events keep coming', async () => {
    const w1 = workload({ cluster: 'r1', seed: 31, clientsPerNode: 2000 });
    const w2 = workload({ cluster: 'r2', seed: 32, nodes: 2, clientsPerNode: 2000 });
    await publishWorkload(opened.nc, names, w1, { events: 10_000 });
    await publishWorkload(opened.nc, names, w2, { events: 10_000 });
    const live = new Projector({ databaseUrl: testDatabaseUrl(), nc: opened.nc, store: opened.store, names, replica: 'live' }).start();
    await live.waitForCheckpoint(await lastEventSequence(opened.nc, names), 120_000);
    const first = (await readPointer(sqlOf(db), name))!;
    const queries = new ReadModelQueries(poolReadTransaction(pool), name);

    // Events keep coming and readers keep reading while the replay runs.
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await publishWorkload(opened.nc, names, w1, { events: 50 });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const answers: number[] = [];
    const reader = (async () => {
      while (writing) {
        const r = await queries.clients('r1', { valid: true, limit: 5 });
        answers.push(r.sequence);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const progress: RebuildProgress[] = [];
    const client = await pgClient(testDatabaseUrl());
    const result = await rebuildReadModel({ client, nc: opened.nc, store: opened.store, names, onProgress: (p) => progress.push(p) });
    await client.end();
    writing = false;
    await Promise.all([writer, reader]);

    expect(result.previous).toEqual({ generation: first.generation, schema: first.schema });
    expect(result.events).toBeGreaterThanOrEqual(20_000);
    expect(progress.map((p) => p.phase)).toEqual(expect.arrayContaining(['replaying', 'writing', 'indexing', 'catching-up', 'swapped']));
    // Readers were served throughout, never from a checkpoint that went backwards.
    expect(answers.length).toBeGreaterThan(5);
    for (let i = 1; i < answers.length; i++) expect(answers[i]!).toBeGreaterThanOrEqual(answers[i - 1]!);
    console.log(`[replay] ${result.events} events in ${result.messages} messages: ${Math.round(result.eventsPerSecond)} events/s, ${Math.round(result.messagesPerSecond)} messages/s (one decision per message)`);

    // The live projector continues on the new generation; once quiet, it equals a clean replay.
    await waitUntil(async () => live.pointer?.generation === result.generation && live.role === 'active', 'the live projector on the new generation');
    let last = -1;
    await waitUntil(async () => {
      const seq = await lastEventSequence(opened.nc, names);
      const ok = seq === last && live.checkpoint === seq;
      last = seq;
      if (!ok) await new Promise((r) => setTimeout(r, 200));
      return ok;
    }, 'the live projector to catch up', 60_000);
    await live.stop();
    const liveDump = await dumpReadModel(sqlOf(db), result.schema);
    const client2 = await pgClient(testDatabaseUrl());
    const again = await rebuildReadModel({ client: client2, nc: opened.nc, store: opened.store, names });
    await client2.end();
    expect(diffDumps(liveDump, await dumpReadModel(sqlOf(db), again.schema))).toEqual([]);
    // Two generations are kept at most: the live one and the one it replaced.
    const schemas = await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 ORDER BY 1`, [`rm_${name}_g%`]);
    expect(schemas.rows.map((r) => r.nspname)).toEqual([result.schema, again.schema]);
  });
});
