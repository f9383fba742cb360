import { jetstreamManager } from '@nats-io/jetstream';
import { connect, NatsConnection } from '@nats-io/transport-node';
import { MIN_RETAINED_DECISIONS, provisionStream, TruncatedHistory } from '#event-store';
import { cleanupStream, testNatsUrl, testStreamNames } from '#testing';
import { clustersCovered, executeOnce, historyStart, LiveClusterView, loadCluster, openGraceStore, OpenedStore, retentionRefusal, setRetention } from './index';

const names = testStreamNames('retain');
let opened: OpenedStore;
let admin: NatsConnection;

beforeAll(async () => {
  opened = await openGraceStore({ natsUrl: testNatsUrl(), names, name: 'retention-test', onSnapshotProblem: () => undefined });
  admin = await connect({ servers: testNatsUrl() });
});
afterAll(async () => {
  await cleanupStream(admin, names);
  await admin.close();
  await opened.close();
});

describe('history retention', () => {
  it('refuses unsafe settings with the reason', () => {
    const covered = [{ cluster: 'c1', hasTrustedSnapshot: true }];
    expect(retentionRefusal({ keep: 10, auditModelCovers: true }, covered, true)).toMatch(/below the minimum of 100000/);
    expect(retentionRefusal({ keep: MIN_RETAINED_DECISIONS, auditModelCovers: true }, covered, false)).toMatch(/snapshots are off/);
    expect(retentionRefusal({ keep: MIN_RETAINED_DECISIONS, auditModelCovers: true }, [...covered, { cluster: 'c2', hasTrustedSnapshot: false }], true)).toMatch(/no trusted whole-cluster snapshot yet for c2/);
    expect(retentionRefusal({ keep: MIN_RETAINED_DECISIONS, auditModelCovers: false }, covered, true)).toMatch(/--audit-model-covers/);
    expect(retentionRefusal({ keep: MIN_RETAINED_DECISIONS, auditModelCovers: true }, covered, true)).toBeUndefined();
  });

  it('a per-cluster limit drops the oldest decisions only; a full replay is then refused, the snapshot path still loads, and the start of history is reported', async () => {
    const jsm = await jetstreamManager(admin);
    await executeOnce(opened.store, names, 'c1', { type: 'add', nodes: ['a'] }, { actor: 't' });
    expect(await clustersCovered(jsm, opened.store, names, opened.snapshots)).toEqual([{ cluster: 'c1', hasTrustedSnapshot: false }]);
    const view = await LiveClusterView.open(opened.store, names, 'c1', { snapshots: opened.snapshots, snapshotPolicy: { everyMessages: 1000 } });
    for (let i = 0; i < 6; i++) await view.execute({ type: 'create', node: 'a', clients: [{ client: `0${i}` }] }, { actor: 'a' });
    await view.close(); // writes the whole-cluster snapshot
    expect(await clustersCovered(jsm, opened.store, names, opened.snapshots)).toEqual([{ cluster: 'c1', hasTrustedSnapshot: true }]);
    expect(await historyStart(jsm, names, 'c1')).toMatchObject({ keep: -1, complete: true });

    // Below the minimum on purpose (the refusal is the gracectl command's job): 3 kept decisions.
    await setRetention(jsm, names, 3);
    await executeOnce(opened.store, names, 'c1', { type: 'create', node: 'a', clients: [{ client: '99' }] }, { actor: 't' });
    const start = await historyStart(jsm, names, 'c1');
    expect(start).toMatchObject({ keep: 3, complete: false });
    // The oldest decisions are gone (the server trims to the limit as new ones arrive), the latest stays.
    // A read from the start refuses a history whose beginning is gone (fail closed); from where the
    // stored history starts it reads what is kept.
    await expect(opened.store.readStream(`${names.prefix}.cluster.c1`)).rejects.toBeInstanceOf(TruncatedHistory);
    const kept = (await opened.store.readStream(`${names.prefix}.cluster.c1`, { from: start.firstSequence })).messages;
    expect(kept[0].sequence).toBeGreaterThan(1);
    expect(kept.at(-1)!.sequence).toBe(await opened.store.currentVersion(`${names.prefix}.cluster.c1`));
    // The first kept decision links to a dropped one: readers judge it a stale append and skip it.
    expect(start.firstSequence).toBeLessThanOrEqual(kept[0].sequence);
    await expect(loadCluster(opened.store, names, 'c1')).rejects.toThrow(/truncated|incomplete/i);
    const loaded = await loadCluster(opened.store, names, 'c1', { snapshots: opened.snapshots });
    expect(loaded.fromSnapshot).toBe(view.version);
    expect([...loaded.state.records.get('a')!.current.keys()].sort()).toEqual(['00', '01', '02', '03', '04', '05', '99']);

    // Provisioning resets a limit below the minimum, and leaves a deliberate one alone.
    await provisionStream(jsm, names);
    expect((await jsm.streams.info(names.stream)).config.max_msgs_per_subject).toBe(-1);
    await setRetention(jsm, names, MIN_RETAINED_DECISIONS);
    await provisionStream(jsm, names);
    expect((await jsm.streams.info(names.stream)).config.max_msgs_per_subject).toBe(MIN_RETAINED_DECISIONS);
    await setRetention(jsm, names, -1);
  });
});
