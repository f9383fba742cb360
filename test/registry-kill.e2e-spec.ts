import { Client } from 'pg';
import { subjects } from '#contracts';
import { openGraceStore, type OpenedStore } from '#cluster-store';
import { diffDumps, dumpReadModel, lastEventSequence, readModelName, readPointer, rebuildReadModel, sqlOf } from '#projection';
import { publishWorkload, workload } from '../libs/projection/test/support';
import { startRegistry, until, type RegistryProcess } from '../apps/client-registry/test/process';
import { distMain, ensureBuilt, cleanupStream, testDatabaseUrl, testNatsUrl, testStreamNames, mulberry32 } from '#testing';

/**
 * Two client-registry processes; the active one is killed (SIGKILL) at random points, and its
 * connection dropped now and then, while more than 10,000 events stream in. The standby takes
 * over each time, the killed one comes back, and in the end the read model is identical to a
 * clean replay and every invalidation was published exactly once.
 */
jest.setTimeout(300_000);
const names = testStreamNames('registry_kill');
const TOKEN = 'e2e-registry-token-2';
let opened: OpenedStore;
let db: Client;
const replicas = new Map<string, RegistryProcess>();

const start = async (replica: string) => {
  const p = await startRegistry({
    replica, names, natsUrl: testNatsUrl(), databaseUrl: testDatabaseUrl(), token: TOKEN, env: { GK_REGISTRY_BATCH_EVENTS: '300' },
  });
  replicas.set(replica, p);
  return p;
};

beforeAll(async () => {
  await ensureBuilt([distMain('client-registry')]);
  opened = await openGraceStore({ natsUrl: testNatsUrl(), names, name: 'registry-kill' });
  db = new Client({ connectionString: testDatabaseUrl() });
  db.on('error', () => undefined);
  await db.connect();
}, 180_000);

afterAll(async () => {
  await Promise.all([...replicas.values()].map((p) => p.stop('SIGKILL')));
  await cleanupStream(opened.nc, names);
  await opened.close();
  await db.end();
});

async function liveCheckpoint(): Promise<number> {
  const pointer = await readPointer(sqlOf(db), readModelName(names.stream));
  if (!pointer) return 0;
  return Number((await db.query(`SELECT sequence FROM "${pointer.schema}".checkpoint`)).rows[0]?.sequence ?? 0);
}

it('the projector killed at random points during 10,000+ events ends with a read model identical to a clean replay', async () => {
  await start('r1');
  await start('r2');
  const rng = mulberry32(2026);
  let publishing = true;
  let kills = 0;
  let drops = 0;
  const killer = (async () => {
    while (publishing) {
      await new Promise((r) => setTimeout(r, 800 + rng() * 1700));
      if (!publishing) break;
      if (rng() < 0.25) {
        // The active projector's database connection drops instead (it reconnects and resumes).
        const r = await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'gk-projector:%'`);
        drops += r.rowCount ?? 0;
        continue;
      }
      for (const [replica, p] of replicas) {
        const role = await p.get('/projection').then((r) => r.body?.role, () => undefined);
        if (role !== 'active' && role !== 'rebuilding') continue;
        await p.stop('SIGKILL');
        kills += 1;
        await start(replica);
        break;
      }
    }
  })();
  const streams = [workload({ cluster: 'k1', seed: 21 }), workload({ cluster: 'k2', seed: 22, nodes: 3 })];
  let events = 0;
  // At least 10,500 events, and at least four kills while they stream in.
  while (events < 10_500 || kills < 4) {
    for (const w of streams) {
      const before = w.events;
      await publishWorkload(opened.nc, names, w, { events: 100 });
      events += w.events - before;
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  publishing = false;
  await killer;

  // Caught up, with the registry's own invalidations published and projected.
  let last = -1;
  await until('the read model to reach the end of the stream', async () => {
    const seq = await lastEventSequence(opened.nc, names);
    const done = seq === last && (await liveCheckpoint()) === seq;
    last = seq;
    if (!done) await new Promise((r) => setTimeout(r, 300));
    return done;
  }, 180_000);

  const pointer = (await readPointer(sqlOf(db), readModelName(names.stream)))!;
  const live = await dumpReadModel(sqlOf(db), pointer.schema);
  const client = new Client({ connectionString: testDatabaseUrl() });
  await client.connect();
  try {
    const rebuilt = await rebuildReadModel({ client, nc: opened.nc, store: opened.store, names });
    const clean = await dumpReadModel(sqlOf(db), rebuilt.schema);
    expect(diffDumps(live, clean)).toEqual([]);
    expect(clean.audit_events.length).toBeGreaterThanOrEqual(10_000);
    expect(clean.outbox).toEqual([]);
  } finally {
    await client.end();
  }
  for (const cluster of ['k1', 'k2']) {
    const ids = (await opened.store.readStream(subjects.registry(names, cluster))).messages.map((m) => m.message.id);
    expect(ids.length).toBeGreaterThan(0);
    expect(new Set(ids).size).toBe(ids.length);
  }
  void drops;
});
