import { Client, Pool } from 'pg';
import { subjects } from '#contracts';
import { executeOnce, openGraceStore, type OpenedStore } from '#cluster-store';
import type { Command } from '#domain';
import { cleanupStream, testDatabaseUrl, testNatsUrl, testStreamNames } from '#testing';
import { pgClient, waitUntil } from '../test/support';
import {
  auditRowsFromDatabase, auditRowsFromEvents, buildTimeline, lastEventSequence, migrateRegistry, poolReadTransaction, Projector,
  ReadModelQueries, readModelName, timelineText, type TimelineEntry,
} from './index';

/**
 * The two reboot edge conditions of RFC 7530 §9.6.3.4 (SPEC §1), run as real decisions through
 * the event stream, projected by the registry: the refused reclaims, the invalidated records,
 * and an audit timeline that says why, from the read model and from the events alike.
 */
const names = testStreamNames('edge');
let opened: OpenedStore;
let db: Client;
let pool: Pool;
let projector: Projector;
let queries: ReadModelQueries;
const A = '0a0a0a0a';
const B = '0b0b0b0b';
const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const at = (seconds: number) => () => T0 + seconds * 1000;

async function run(cluster: string, command: Command, seconds: number) {
  const r = await executeOnce(opened.store, names, cluster, command, { actor: 'node' in command ? command.node : 'gracectl:test', causation: `test:${command.type}`, now: at(seconds) });
  if (!r.ok) throw new Error(`${command.type} refused: ${r.rejection.message}`);
  return r;
}

async function settled(): Promise<number> {
  for (;;) {
    const last = await lastEventSequence(opened.nc, names);
    await projector.waitForCheckpoint(last, 30_000);
    await new Promise((r) => setTimeout(r, 150));
    if ((await lastEventSequence(opened.nc, names)) === last) return last;
  }
}

async function timeline(cluster: string, client: string): Promise<{ fromDb: TimelineEntry[]; fromEvents: TimelineEntry[] }> {
  const db = await queries.read(async (sql, schema) => ({ rows: await auditRowsFromDatabase(sql, schema, { cluster, client }) }));
  const events = await auditRowsFromEvents(opened.store, names, cluster);
  return { fromDb: buildTimeline(db.rows, { cluster, client }), fromEvents: buildTimeline(events.rows, { cluster, client }) };
}

beforeAll(async () => {
  opened = await openGraceStore({ natsUrl: testNatsUrl(), names, name: 'edge-test' });
  await migrateRegistry(testDatabaseUrl());
  db = await pgClient(testDatabaseUrl());
  pool = new Pool({ connectionString: testDatabaseUrl(), max: 2 });
  projector = new Projector({ databaseUrl: testDatabaseUrl(), nc: opened.nc, store: opened.store, names, replica: 'edge' }).start();
  queries = new ReadModelQueries(poolReadTransaction(pool), readModelName(names.stream));
});
afterAll(async () => {
  await projector.stop();
  await cleanupStream(opened.nc, names);
  await opened.close();
  await db.end();
  await pool.end();
});

describe('RFC 7530 §9.6.3.4 edge conditions through the registry', () => {
  it('edge condition 1: A\'s lease expired in a partition, B locked, the server rebooted: A\'s reclaim is refused and the audit says why', async () => {
    const c = 'edge1';
    await run(c, { type: 'add', nodes: ['a'] }, 0);
    await run(c, { type: 'create', node: 'a', clients: [{ client: A }] }, 1);
    // Partition: A's lease expires, the server expires A (its record goes). B locks and unlocks.
    await run(c, { type: 'removeClients', node: 'a', clients: [A] }, 100);
    await run(c, { type: 'create', node: 'a', clients: [{ client: B }] }, 110);
    // The server reboots; A comes back and reclaims.
    await run(c, { type: 'start', nodes: ['a'] }, 200);
    const refused = await run(c, { type: 'reclaim', node: 'a', clients: [A, B] }, 201);
    expect(refused.reply).toEqual({ kind: 'reclaim', statuses: ['NFS4ERR_RECLAIM_BAD', 'OK'] });
    await settled();

    const answer = await queries.reclaimable(c, 'a', A);
    expect(answer).toMatchObject({ reclaimable: false, status: 'NFS4ERR_RECLAIM_BAD' });
    expect(answer.sequence).toBe(await lastEventSequence(opened.nc, names));
    const record = (await queries.client(c, A)).records[0]!;
    expect(record).toMatchObject({ node: 'a', valid: false, invalidated: { reason: 'removed', epoch: 1 } });

    const { fromDb, fromEvents } = await timeline(c, A);
    expect(fromDb).toEqual(fromEvents);
    const types = fromDb.map((t) => t.type);
    expect(types).toEqual(['ClientRecorded', 'ClientRemoved', 'GraceStarted', 'ReclaimRejected']);
    const refusal = fromDb[fromDb.length - 1]!;
    expect(refusal.text).toMatch(/reclaim by client 0a0a0a0a on a refused: NFS4ERR_RECLAIM_BAD — the client holds no valid record of epoch 1 on a/);
    const removed = fromDb.find((t) => t.type === 'ClientRemoved')!;
    expect(refusal.see).toEqual([removed.sequence]);
    expect(removed.time).toBe('2026-03-01T10:01:40.000Z');
  }, 60_000);

  it('edge condition 2: A could not reclaim before grace ended, B locked, a second reboot: A is refused; its record was invalidated when grace ended', async () => {
    const c = 'edge2';
    await run(c, { type: 'add', nodes: ['a', 'b'] }, 0);
    await run(c, { type: 'create', node: 'a', clients: [{ client: A }] }, 1);
    // First reboot of a: grace period of epoch 1. A cannot reach the server in time.
    await run(c, { type: 'start', nodes: ['a'] }, 10);
    await settled();
    const during = await queries.reclaimableClients(c, 'a');
    expect(during.clients).toEqual([A]);
    // The deadline passes (default grace 90 s): grace ends, a is abandoned, A's record goes.
    await run(c, { type: 'expire', now: T0 + 120_000 }, 120);
    // NFS4ERR_NO_GRACE at 10:02:30: why? (grace ended at 10:02:00 by its deadline)
    const late = await run(c, { type: 'reclaim', node: 'a', clients: [A] }, 150);
    expect(late.reply).toEqual({ kind: 'reclaim', statuses: ['NFS4ERR_NO_GRACE'] });
    // B takes and releases a conflicting lock in epoch 2; the server reboots again; A reclaims.
    await run(c, { type: 'create', node: 'a', clients: [{ client: B }] }, 160);
    await run(c, { type: 'start', nodes: ['a'] }, 300);
    const refused = await run(c, { type: 'reclaim', node: 'a', clients: [A] }, 301);
    expect(refused.reply).toEqual({ kind: 'reclaim', statuses: ['NFS4ERR_RECLAIM_BAD'] });

    // The registry invalidated A's record of epoch 1 and said so in the stream.
    await waitUntil(async () => (await opened.store.readStream(subjects.registry(names, c))).messages.length === 1, 'the ClientRecordsInvalidated');
    const published = (await opened.store.readStream(subjects.registry(names, c))).messages[0]!.message;
    expect(published.id).toBe('invalidated/edge2/1/a/0');
    expect(published.events[0]).toMatchObject({ type: 'ClientRecordsInvalidated', recoveryEpoch: 1, reason: 'deadline', node: 'a', clients: [A], part: 0, parts: 1, time: '2026-03-01T10:02:00.000Z' });
    await settled();

    const record = (await queries.client(c, A)).records[0]!;
    expect(record).toMatchObject({ node: 'a', valid: false, invalidated: { reason: 'deadline', epoch: 1, at: '2026-03-01T10:02:00.000Z' } });
    const periods = (await queries.gracePeriods(c)).periods;
    // The late reclaim came after the period ended: it is not one of its rejections.
    expect(periods[0]).toMatchObject({ recoveryEpoch: 1, reason: 'deadline', abandonedNodes: ['a'], invalidated: 1, reclaimsAccepted: 0, reclaimsRejected: 0 });
    expect(periods[1]).toMatchObject({ recoveryEpoch: 2, nodes: ['a'], reclaimsRejected: 1 });
    expect(await queries.reclaimable(c, 'a', A)).toMatchObject({ reclaimable: false, status: 'NFS4ERR_RECLAIM_BAD' });
    expect(await queries.reclaimable(c, 'a', B)).toMatchObject({ reclaimable: true, status: 'OK' });

    const { fromDb, fromEvents } = await timeline(c, A);
    expect(fromDb).toEqual(fromEvents);
    // The late NO_GRACE (outside grace) is not an event: refusals outside grace are noise the log
    // does not keep (libs/domain refusalsRecorded); the timeline shows the grace period's end instead.
    expect(fromDb.map((t) => t.type)).toEqual([
      'ClientRecorded', 'GraceStarted', 'GraceEnded', 'ClientRecordsInvalidated', 'GraceStarted', 'ReclaimRejected',
    ]);
    const text = timelineText(fromDb);
    const ended = fromDb.find((t) => t.type === 'GraceEnded')!;
    const invalidated = fromDb.find((t) => t.type === 'ClientRecordsInvalidated')!;
    const [bad] = fromDb.filter((t) => t.type === 'ReclaimRejected');
    expect(ended.text).toContain('1 record(s) of epoch 1 not reclaimed are invalid from now on');
    expect(invalidated.text).toContain('client 0a0a0a0a');
    expect(invalidated.causation).toBe(ended.id);
    expect(bad!.text).toContain('NFS4ERR_RECLAIM_BAD — the client holds no valid record of epoch 2 on a');
    expect(bad!.see).toEqual([ended.sequence, invalidated.sequence]);
    expect(text).toMatch(/GraceEnded {2}grace period of epoch 1 ended because its deadline passed/);
  }, 60_000);

  it('a client that sent RECLAIM_COMPLETE and reclaims again: NO_GRACE, and the timeline points at its RECLAIM_COMPLETE', async () => {
    const c = 'edge3';
    await run(c, { type: 'add', nodes: ['a'] }, 0);
    await run(c, { type: 'create', node: 'a', clients: [{ client: A }, { client: B }] }, 1);
    await run(c, { type: 'start', nodes: ['a'] }, 10);
    await run(c, { type: 'reclaim', node: 'a', clients: [A] }, 11);
    await run(c, { type: 'reclaimComplete', node: 'a', clients: [A] }, 12);
    const again = await run(c, { type: 'reclaim', node: 'a', clients: [A] }, 13);
    expect(again.reply).toEqual({ kind: 'reclaim', statuses: ['NFS4ERR_NO_GRACE'] });
    await settled();
    expect(await queries.reclaimable(c, 'a', A)).toMatchObject({ status: 'NFS4ERR_NO_GRACE', why: expect.stringContaining('already sent RECLAIM_COMPLETE') });
    expect((await queries.reclaimableClients(c, 'a')).clients).toEqual([B]);
    const { fromDb } = await timeline(c, A);
    const completed = fromDb.find((t) => t.type === 'ReclaimCompleted')!;
    const refusal = fromDb[fromDb.length - 1]!;
    expect(refusal.text).toContain('the client already sent RECLAIM_COMPLETE on a in the grace period of epoch 1');
    expect(refusal.see).toEqual([completed.sequence]);
    expect(completed.time).toBe('2026-03-01T10:00:12.000Z');
  }, 60_000);
});
