import { connect, NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { subjects } from '#contracts';
import { cleanupStream, testNatsUrl, testStreamNames } from '#testing';
import { executeOnce, KvSnapshotBlobs, LiveClusterView, loadCluster, MEMBERS_ONLY, openGraceStore, OpenedStore, snapshotKey, Snapshots } from './index';

const names = testStreamNames('snap');
const cluster = 'c1';
let opened: OpenedStore;
let admin: NatsConnection;
const problems: string[] = [];

beforeAll(async () => {
  opened = await openGraceStore({ natsUrl: testNatsUrl(), names, name: 'snapshots-test', onSnapshotProblem: (m) => problems.push(m) });
  admin = await connect({ servers: testNatsUrl() });
});
afterAll(async () => {
  await cleanupStream(admin, names);
  await admin.close();
  await opened.close();
});
beforeEach(() => problems.splice(0));

const hex = (i: number) => i.toString(16).padStart(8, '0');
const snapshots = (): Snapshots => opened.snapshots!;

describe('snapshots in the JetStream KV bucket', () => {
  it('a view writes one every N messages and on close; the next open folds only the tail; a corrupt one means a full replay', async () => {
    await executeOnce(opened.store, names, cluster, { type: 'add', nodes: ['a', 'b'] }, { actor: 't' });
    const view = await LiveClusterView.open(opened.store, names, cluster, { trackedNodes: ['a'], snapshots: snapshots(), snapshotPolicy: { everyMessages: 5 } });
    expect(view.loadedFromSnapshot).toBe(0);
    // 12,000 records: a snapshot text of more than one 512 KiB part.
    for (let batch = 0; batch < 12; batch++) {
      await view.execute({ type: 'create', node: 'a', clients: Array.from({ length: 1000 }, (_, k) => ({ client: hex(batch * 1000 + k), principalHash: 'ab'.repeat(16) })) }, { actor: 'a' });
    }
    await view.execute({ type: 'create', node: 'b', clients: [{ client: hex(99_999) }] }, { actor: 'b' });
    await view.close();
    const closedAt = view.version;

    // Written in parts, read back whole.
    const kv = await new Kvm(admin).open(subjects.snapshotBucket(names));
    const head = JSON.parse((await kv.get(`${snapshotKey(cluster, ['a'])}.head`))!.string()) as { id: string; parts: number };
    expect(head.parts).toBeGreaterThan(1);

    await executeOnce(opened.store, names, cluster, { type: 'start', nodes: ['a'] }, { actor: 't' });
    const again = await LiveClusterView.open(opened.store, names, cluster, { trackedNodes: ['a'], snapshots: snapshots() });
    const full = await loadCluster(opened.store, names, cluster, { trackedNodes: ['a'] });
    expect(again.loadedFromSnapshot).toBe(closedAt);
    expect(again.version).toBe(full.version);
    expect(again.state).toEqual(full.state);
    expect(again.state.records.get('a')?.recovery?.size).toBe(12_000);
    await again.close({ snapshot: false });
    expect(problems).toEqual([]);

    // One byte of one part changed: refused with a warning, and the state is the full replay's.
    const part = await kv.get(`${snapshotKey(cluster, ['a'])}.${head.id}.1`);
    const spoiled = Buffer.from(part!.value);
    spoiled[100] = spoiled[100] === 0x30 ? 0x31 : 0x30;
    await kv.put(`${snapshotKey(cluster, ['a'])}.${head.id}.1`, spoiled);
    const replayed = await loadCluster(opened.store, names, cluster, { trackedNodes: ['a'], snapshots: snapshots() });
    expect(replayed.fromSnapshot).toBe(0);
    expect(replayed.state).toEqual(full.state);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/checksum mismatch/);

    // A missing part (a reader racing the clean-up of an older snapshot) is a missing snapshot.
    await kv.purge(`${snapshotKey(cluster, ['a'])}.${head.id}.0`);
    expect(await snapshots().blobs.read(snapshotKey(cluster, ['a']))).toBeUndefined();
    expect((await loadCluster(opened.store, names, cluster, { trackedNodes: ['a'], snapshots: snapshots() })).state).toEqual(full.state);
  });

  it('a newer snapshot replaces the older one and purges its parts', async () => {
    const blobs = await KvSnapshotBlobs.open(admin, names, { create: false });
    await blobs.write('x.all', 'one');
    await blobs.write('x.all', 'two');
    expect(await blobs.read('x.all')).toBe('two');
    const kv = await new Kvm(admin).open(subjects.snapshotBucket(names));
    const keys: string[] = [];
    for await (const k of await kv.keys('x.all.>')) keys.push(k);
    expect(keys.sort()).toHaveLength(2); // the head and the one part of "two"
  });

  it('gracectl-style executeOnce reads the coordinator\'s snapshot and still decides on the latest state', async () => {
    const c3 = 'c3';
    await executeOnce(opened.store, names, c3, { type: 'add', nodes: ['a'] }, { actor: 't' });
    const coordinatorView = await LiveClusterView.open(opened.store, names, c3, { snapshots: snapshots() });
    await coordinatorView.execute({ type: 'create', node: 'a', clients: Array.from({ length: 2000 }, (_, k) => ({ client: hex(k) })) }, { actor: 'a' });
    await coordinatorView.close();
    // Beside the whole state, the coordinator wrote the view of no records (what gracectl dump reads): small.
    const whole = await snapshots().blobs.read(snapshotKey(c3, undefined));
    const membersOnly = await snapshots().blobs.read(snapshotKey(c3, MEMBERS_ONLY));
    expect(whole!.length).toBeGreaterThan(30_000);
    expect(membersOnly!.length).toBeLessThan(2_000);
    const dumpView = await loadCluster(opened.store, names, c3, { trackedNodes: [...MEMBERS_ONLY], snapshots: snapshots() });
    const fullDumpView = await loadCluster(opened.store, names, c3, { trackedNodes: [...MEMBERS_ONLY] });
    expect(dumpView.fromSnapshot).toBe(coordinatorView.version);
    expect(dumpView.state).toEqual(fullDumpView.state);
    // After the snapshot: a change it does not hold.
    await executeOnce(opened.store, names, c3, { type: 'add', nodes: ['b'] }, { actor: 't' });
    const removed = await executeOnce(opened.store, names, c3, { type: 'remove', nodes: ['b'] }, { actor: 't' }, { snapshots: snapshots() });
    expect(removed.ok).toBe(true);
    const loaded = await loadCluster(opened.store, names, c3, { snapshots: snapshots() });
    expect(loaded.fromSnapshot).toBe(coordinatorView.version);
    expect([...loaded.state.members.keys()]).toEqual(['a']);
    expect(problems).toEqual([]);
  });
});
