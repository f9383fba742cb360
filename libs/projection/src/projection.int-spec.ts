import { Client } from 'pg';
import { openGraceStore, loadCluster, type OpenedStore } from '#cluster-store';
import { cleanupStream, testDatabaseUrl, testNatsUrl, testStreamNames } from '#testing';
import { pgClient, publishWorkload, validRecords, waitUntil, workload } from '../test/support';
import { dumpReadModel, diffDumps, lastEventSequence, migrateRegistry, Projector, readModelName, readPointer, rebuildReadModel, sqlOf } from './index';

const names = testStreamNames('proj');
let opened: OpenedStore;
let db: Client;
const name = readModelName(names.stream);

beforeAll(async () => {
  opened = await openGraceStore({ natsUrl: testNatsUrl(), names, name: 'projection-test' });
  await migrateRegistry(testDatabaseUrl());
  db = await pgClient(testDatabaseUrl());
});
afterAll(async () => {
  await cleanupStream(opened.nc, names);
  await opened.close();
  await db.end();
});

/** Waits until the projector has committed everything in the stream, its own invalidations included. */
async function settle(projector: Projector): Promise<void> {
  for (;;) {
    const last = await lastEventSequence(opened.nc, names);
    await projector.waitForCheckpoint(last, 60_000);
    await new Promise((r) => setTimeout(r, 200));
    if ((await lastEventSequence(opened.nc, names)) === last) return;
  }
}

describe('projection', () => {
  it('projects a workload; the valid records equal what evolve says; a rebuild equals the live tables', async () => {
    const w1 = workload({ cluster: 'c1', seed: 7 });
    const w2 = workload({ cluster: 'c2', seed: 8, nodes: 2 });
    await publishWorkload(opened.nc, names, w1, { events: 1500 });
    const projector = new Projector({ databaseUrl: testDatabaseUrl(), nc: opened.nc, store: opened.store, names, replica: 'p1', log: (l, m) => l !== 'info' && console.log(m) }).start();
    await publishWorkload(opened.nc, names, w2, { events: 500 });
    await publishWorkload(opened.nc, names, w1, { events: 1000 });
    await settle(projector);
    await projector.stop();

    const pointer = (await readPointer(sqlOf(db), name))!;
    for (const cluster of ['c1', 'c2']) {
      const { state } = await loadCluster(opened.store, names, cluster);
      const rows = await db.query(`SELECT node, client, coalesce(current_record_epoch, recovery_record_epoch) AS epoch FROM ${pointer.schema}.client_records WHERE cluster = $1 AND valid ORDER BY 1, 2`, [cluster]);
      expect(rows.rows.map((r) => `${r.node}/${r.client}@${r.epoch}`).sort()).toEqual(validRecords(state));
      expect(validRecords(state).length).toBeGreaterThan(10);
    }
    const live = await dumpReadModel(sqlOf(db), pointer.schema);
    const rebuilt = await rebuildReadModel({ client: db, nc: opened.nc, store: opened.store, names });
    expect(rebuilt.previous?.schema).toBe(pointer.schema);
    const fresh = await dumpReadModel(sqlOf(db), rebuilt.schema);
    expect(diffDumps(live, fresh)).toEqual([]);
    const invalidations = fresh.audit_events.filter((row) => row.includes('"type": "ClientRecordsInvalidated"')).length;
    expect(invalidations).toBeGreaterThan(0);
    expect(fresh.audit_events.length).toBe(w1.events + w2.events + invalidations);
    expect(fresh.outbox).toEqual([]);
  }, 120_000);
});
