import { jetstream } from '@nats-io/jetstream';
import { Client } from 'pg';
import { subjects } from '#contracts';
import { openGraceStore, type OpenedStore } from '#cluster-store';
import { cleanupStream, testDatabaseUrl, testNatsUrl, testStreamNames, mulberry32 } from '#testing';
import { pgClient, publishWorkload, waitUntil, workload } from '../test/support';
import {
  applyMessage, ChangeSet, CheckpointMoved, diffDumps, dumpReadModel, lastEventSequence, loadModel, materializeChanges, migrateRegistry,
  Projector, readModelName, readPointer, rebuildReadModel, sqlOf, writeChanges,
} from './index';

jest.setTimeout(180_000);

/** Each test its own stream (its own read model), one database for the file. */
async function setup(label: string) {
  const names = testStreamNames(label);
  const opened = await openGraceStore({ natsUrl: testNatsUrl(), names, name: `failover-${label}` });
  return { names, opened, name: readModelName(names.stream) };
}

let db: Client;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  await migrateRegistry(testDatabaseUrl());
  db = await pgClient(testDatabaseUrl());
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await db.end();
});

function projector(ctx: { names: ReturnType<typeof testStreamNames>; opened: OpenedStore }, replica: string, extra: Partial<ConstructorParameters<typeof Projector>[0]> = {}) {
  const p = new Projector({ databaseUrl: testDatabaseUrl(), nc: ctx.opened.nc, store: ctx.opened.store, names: ctx.names, replica, lockPollMs: 100, ...extra });
  cleanups.push(() => p.stop());
  return p.start();
}

/** Until the stream has stopped growing (the registry's own invalidations included) and `p` has committed all of it. */
async function settle(ctx: { names: ReturnType<typeof testStreamNames>; opened: OpenedStore }, committed: () => Promise<number>): Promise<number> {
  for (;;) {
    const last = await lastEventSequence(ctx.opened.nc, ctx.names);
    await waitUntil(async () => (await committed()) >= last, `checkpoint ${last}`, 120_000);
    await new Promise((r) => setTimeout(r, 300));
    if ((await lastEventSequence(ctx.opened.nc, ctx.names)) === last) return last;
  }
}

async function liveCheckpoint(name: string): Promise<number> {
  const pointer = await readPointer(sqlOf(db), name);
  if (!pointer) return 0;
  const r = await db.query(`SELECT sequence FROM "${pointer.schema}".checkpoint`);
  return Number(r.rows[0]?.sequence ?? 0);
}

/** Rebuilds from the first event and compares with the generation it replaces. */
async function expectEqualToCleanReplay(ctx: { names: ReturnType<typeof testStreamNames>; opened: OpenedStore; name: string }) {
  const pointer = (await readPointer(sqlOf(db), ctx.name))!;
  const live = await dumpReadModel(sqlOf(db), pointer.schema);
  const client = await pgClient(testDatabaseUrl());
  try {
    const rebuilt = await rebuildReadModel({ client, nc: ctx.opened.nc, store: ctx.opened.store, names: ctx.names });
    expect(rebuilt.previous?.generation).toBe(pointer.generation);
    const clean = await dumpReadModel(sqlOf(db), rebuilt.schema);
    expect(diffDumps(live, clean)).toEqual([]);
    return clean;
  } finally {
    await client.end();
  }
}

describe('projector robustness', () => {
  it('records a malformed message with its reason, reports it, skips it and keeps going', async () => {
    const ctx = await setup('malformed');
    cleanups.push(async () => { await cleanupStream(ctx.opened.nc, ctx.names); await ctx.opened.close(); });
    const w = workload({ cluster: 'm1', seed: 3 });
    await publishWorkload(ctx.opened.nc, ctx.names, w, { events: 200 });
    const js = jetstream(ctx.opened.nc);
    // Linked like a real append, so that it is judged by its content (not skipped as unlinked).
    const linkedTo = await ctx.opened.store.currentVersion(subjects.cluster(ctx.names, 'm1'));
    const garbage = await js.publish(subjects.cluster(ctx.names, 'm1'), new TextEncoder().encode('{"kind":"gk.decision","v":1,"id":"x","events":[{"type":"Bogus"}]}'), { expect: { lastSubjectSequence: linkedTo } });
    const notJson = await js.publish(subjects.registry(ctx.names, 'm1'), new TextEncoder().encode('\xff not json'));
    await publishWorkload(ctx.opened.nc, ctx.names, w, { events: 200 });
    const reported: number[] = [];
    const p = projector(ctx, 'm');
    p.on('malformed', (m: { sequence: number }) => reported.push(m.sequence));
    await settle(ctx, async () => p.checkpoint);
    expect(reported).toEqual([garbage.seq, notJson.seq]);
    const pointer = (await readPointer(sqlOf(db), ctx.name))!;
    const rows = await db.query(`SELECT sequence, subject, kind, error, raw FROM "${pointer.schema}".malformed_events ORDER BY sequence`);
    expect(rows.rows.map((r) => [Number(r.sequence), r.kind])).toEqual([[garbage.seq, 'unknown-event-type'], [notJson.seq, 'not-json']]);
    expect(rows.rows[0].error).toMatch(/Bogus/);
    expect(rows.rows[0].raw.toString()).toContain('"Bogus"');
    // Everything after them was projected.
    const audit = await db.query(`SELECT count(*)::int AS n FROM "${pointer.schema}".audit_events WHERE sequence > $1`, [notJson.seq]);
    expect(audit.rows[0].n).toBeGreaterThan(0);
    await expectEqualToCleanReplay(ctx);
  });

  it('a redelivered message is a no-op: for the model, and for the database (the checkpoint guards the write)', async () => {
    const ctx = await setup('redeliver');
    cleanups.push(async () => { await cleanupStream(ctx.opened.nc, ctx.names); await ctx.opened.close(); });
    await publishWorkload(ctx.opened.nc, ctx.names, workload({ cluster: 'r1', seed: 4 }), { events: 300 });
    const p = projector(ctx, 'r');
    await settle(ctx, async () => p.checkpoint);
    await p.stop();
    const pointer = (await readPointer(sqlOf(db), ctx.name))!;
    const before = await dumpReadModel(sqlOf(db), pointer.schema);
    const model = await loadModel(sqlOf(db), pointer.schema);
    const { messages } = await ctx.opened.store.readStream(subjects.cluster(ctx.names, 'r1'));
    const changes = new ChangeSet();
    // Every message again, as an ordered consumer recreated from an old position would deliver them.
    for (const m of messages) expect(applyMessage(model, ctx.names, m, changes)).toBe(false);
    expect(changes.empty).toBe(true);
    // A writer that applied a batch again from an old checkpoint cannot commit it.
    const stale = await loadModel(sqlOf(db), pointer.schema);
    stale.position = messages[messages.length - 2]!.sequence - 1;
    const again = new ChangeSet();
    applyMessage(stale, ctx.names, messages[messages.length - 2]!, again);
    await db.query('BEGIN');
    try {
      await expect(writeChanges(db, pointer.schema, materializeChanges(stale, again), stale.position - 1)).rejects.toBeInstanceOf(CheckpointMoved);
    } finally {
      await db.query('ROLLBACK');
    }
    expect(await dumpReadModel(sqlOf(db), pointer.schema)).toEqual(before);
  });

  it('a standby replica waits on the lock and takes over when the active one dies', async () => {
    const ctx = await setup('standby');
    cleanups.push(async () => { await cleanupStream(ctx.opened.nc, ctx.names); await ctx.opened.close(); });
    const w = workload({ cluster: 's1', seed: 5 });
    await publishWorkload(ctx.opened.nc, ctx.names, w, { events: 300 });
    const first = projector(ctx, 'first');
    await waitUntil(() => first.role === 'active', 'first active');
    const second = projector(ctx, 'second');
    await waitUntil(() => second.role === 'standby', 'second standing by');
    await settle(ctx, async () => first.checkpoint);
    // The active replica's connection dies (its process would be gone): its lock goes with it.
    await first.stop();
    await waitUntil(() => second.role === 'active', 'second takes over');
    await publishWorkload(ctx.opened.nc, ctx.names, w, { events: 300 });
    await settle(ctx, async () => second.checkpoint);
    expect(await liveCheckpoint(ctx.name)).toBe(second.checkpoint);
    await expectEqualToCleanReplay(ctx);
  });

  it('connections dropped at random points while 12,000 events stream in: the read model equals a clean replay, invalidations published once', async () => {
    const ctx = await setup('drops');
    cleanups.push(async () => { await cleanupStream(ctx.opened.nc, ctx.names); await ctx.opened.close(); });
    const replicas = [projector(ctx, 'drop-a', { maxBatchEvents: 500 }), projector(ctx, 'drop-b', { maxBatchEvents: 500 })];
    const rng = mulberry32(42);
    let publishing = true;
    let kills = 0;
    const killer = (async () => {
      while (publishing) {
        await new Promise((r) => setTimeout(r, 20 + rng() * 300));
        // Whoever holds the projector lock (or is rebuilding, or standing by) loses its connection mid-batch.
        const r = await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'gk-projector:drop-%' AND pid <> pg_backend_pid()`);
        kills += r.rowCount ?? 0;
      }
    })();
    const streams = [workload({ cluster: 'd1', seed: 11 }), workload({ cluster: 'd2', seed: 12, nodes: 3 })];
    let events = 0;
    while (events < 12_000) {
      for (const w of streams) {
        const before = w.events;
        await publishWorkload(ctx.opened.nc, ctx.names, w, { events: 100 });
        events += w.events - before;
        // Spread over several seconds, so the drops land in catch-ups, batches and idle waits alike.
        await new Promise((r) => setTimeout(r, 40));
      }
    }
    publishing = false;
    await killer;
    expect(kills).toBeGreaterThanOrEqual(10);
    await settle(ctx, () => liveCheckpoint(ctx.name));
    const clean = await expectEqualToCleanReplay(ctx);
    expect(clean.audit_events.length).toBeGreaterThanOrEqual(12_000);
    expect(clean.outbox).toEqual([]);
    // Every ClientRecordsInvalidated the registry derived is in the stream exactly once.
    for (const cluster of ['d1', 'd2']) {
      const published = (await ctx.opened.store.readStream(subjects.registry(ctx.names, cluster))).messages.map((m) => m.message.id);
      expect(new Set(published).size).toBe(published.length);
      const expected = clean.grace_periods.filter((row) => row.includes(`"cluster": "${cluster}"`) && !row.includes('"invalidated": 0,')).length;
      expect(new Set(published.map((id) => id.split('/').slice(0, 3).join('/'))).size).toBe(expected);
    }
    expect(replicas.some((p) => p.sessions > 1)).toBe(true);
  });
});
