import fc from 'fast-check';
import { ClusterState, Command, evolve, initialClusterState } from '#domain';
import { InMemoryCluster } from '#testing';
import { TruncatedHistory } from '#event-store';
import { loadCluster } from './one-shot';
import { MemorySnapshotBlobs } from './snapshot-blobs';
import { encodeSnapshot, snapshotKey, Snapshots } from './snapshots';

const NODES = ['a', 'b', 'n:3'];
const CLIENTS = ['aa01', 'bb02', 'cc03', 'dd04', 'ee05', 'ff06'];

const node = fc.constantFrom(...NODES);
const clients = fc.uniqueArray(fc.constantFrom(...CLIENTS), { minLength: 1, maxLength: 4 });
/** Random histories: every command kind that moves the cluster's state, at random times. */
const step: fc.Arbitrary<{ command: (now: number) => Command; advanceMs: number }> = fc.record({
  advanceMs: fc.integer({ min: 0, max: 40_000 }),
  command: fc.oneof(
    { weight: 2, arbitrary: node.map((n) => () => ({ type: 'start', nodes: [n], addMissing: true }) as Command) },
    { weight: 1, arbitrary: node.map((n) => () => ({ type: 'lift', nodes: [n] }) as Command) },
    { weight: 1, arbitrary: node.map((n) => () => ({ type: 'enforce', nodes: [n] }) as Command) },
    { weight: 1, arbitrary: node.map((n) => () => ({ type: 'remove', nodes: [n] }) as Command) },
    { weight: 1, arbitrary: node.map((n) => () => ({ type: 'add', nodes: [n] }) as Command) },
    { weight: 5, arbitrary: fc.record({ n: node, xs: clients, session: fc.boolean() }).map(({ n, xs, session }) => () => ({ type: 'create', node: n, clients: xs.map((client) => ({ client, hasSession: session, principalHash: session ? 'ab12' : undefined })) }) as Command) },
    { weight: 1, arbitrary: fc.record({ n: node, xs: clients }).map(({ n, xs }) => () => ({ type: 'removeClients', node: n, clients: xs }) as Command) },
    { weight: 5, arbitrary: fc.record({ n: node, xs: clients }).map(({ n, xs }) => () => ({ type: 'reclaim', node: n, clients: xs }) as Command) },
    { weight: 2, arbitrary: fc.record({ n: node, xs: clients }).map(({ n, xs }) => () => ({ type: 'reclaimComplete', node: n, clients: xs }) as Command) },
    { weight: 1, arbitrary: node.map((n) => (now: number) => ({ type: 'mayGrant', node: n, now }) as Command) },
    { weight: 1, arbitrary: fc.constant((now: number) => ({ type: 'expire', now }) as Command) },
  ),
});

async function history(steps: { command: (now: number) => Command; advanceMs: number }[], exitPolicy: 'all-clear' | 'first-exit') {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const log = new InMemoryCluster('c1', () => now);
  await log.execute({ type: 'add', nodes: NODES.slice(0, 2), config: { graceTimeMs: 60_000, leaseTimeMs: 30_000, exitPolicy } });
  for (const s of steps) {
    now += s.advanceMs;
    await log.execute(s.command(now));
  }
  return log;
}

/** The state at `version` by folding the log up to it: independent of the snapshot path. */
async function stateAt(log: InMemoryCluster, version: number, trackedNodes?: string[]): Promise<ClusterState> {
  const state = initialClusterState({ trackedNodes });
  for (const m of (await log.store.readStream(log.subject, { to: version })).messages) for (const e of m.message.events) evolve(state, e);
  return state;
}

describe('snapshots: snapshot + tail = full replay', () => {
  it('for random histories, cut points and views (whole cluster, one node, no node; own or narrowed whole-cluster snapshot)', async () => {
    let fromSnapshot = 0;
    await fc.assert(fc.asyncProperty(
      fc.array(step, { minLength: 1, maxLength: 60 }),
      fc.constantFrom('all-clear' as const, 'first-exit' as const),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.constantFrom(undefined, ['a'], ['n:3'], [] as string[]),
      fc.boolean(),
      async (steps, exitPolicy, cut, trackedNodes, onlyWholeCluster) => {
        const log = await history(steps, exitPolicy);
        const { messages } = await log.store.readStream(log.subject);
        const at = messages[Math.min(messages.length - 1, Math.floor(cut * messages.length))].sequence;
        const blobs = new MemorySnapshotBlobs();
        const problems: string[] = [];
        const snapshots: Snapshots = { blobs, onProblem: (m) => problems.push(m) };
        // A node's view without a snapshot of its own starts from the whole cluster's, narrowed.
        const written = onlyWholeCluster ? undefined : trackedNodes;
        await blobs.write(snapshotKey('c1', written), encodeSnapshot('c1', written, await stateAt(log, at, written), at));

        const loaded = await loadCluster(log.store, log.names, 'c1', { trackedNodes, snapshots });
        const full = await loadCluster(log.store, log.names, 'c1', { trackedNodes });
        expect(problems).toEqual([]);
        expect(loaded.fromSnapshot).toBe(at);
        expect(loaded.applied).toBe(messages.filter((m) => m.sequence > at).length);
        expect(loaded.version).toBe(full.version);
        expect(loaded.state).toEqual(full.state);
        fromSnapshot++;
      },
    ), { numRuns: 150 });
    expect(fromSnapshot).toBe(150);
  });
});

describe('snapshots: one that cannot be trusted falls back to a full replay, with a warning', () => {
  async function setUp() {
    const log = await history([{ advanceMs: 0, command: () => ({ type: 'create', node: 'a', clients: [{ client: 'aa01' }] }) }], 'all-clear');
    await log.execute({ type: 'start', nodes: ['a'] });
    const version = await log.version();
    const blobs = new MemorySnapshotBlobs();
    const problems: string[] = [];
    const text = encodeSnapshot('c1', undefined, await stateAt(log, version), version);
    const load = async (stored: string) => {
      await blobs.write(snapshotKey('c1'), stored);
      return loadCluster(log.store, log.names, 'c1', { snapshots: { blobs, onProblem: (m) => problems.push(m) } });
    };
    return { log, text, version, problems, load, full: (await log.load()).state };
  }

  it.each([
    ['a flipped byte in the state', (t: string) => t.replace('"aa01"', '"aa02"'), /checksum mismatch/],
    ['a truncated text', (t: string) => t.slice(0, t.length - 10), /checksum mismatch/],
    ['no header', (t: string) => t.slice(t.indexOf('\n') + 1).replace(/\n/g, ''), /no header|header is not JSON/],
    ['another cluster', (t: string) => t.replace('"cluster":"c1"', '"cluster":"c2"'), /cluster "c2"/],
    ['another view', (t: string) => t.replace('"scope":"all"', '"scope":"nodes-00"'), /another view/],
    ['another state schema', (t: string) => t.replace('"schema":"1:', '"schema":"0:'), /state schema/],
    ['a version the log does not have', (t: string) => t.replace(/"version":\d+/, '"version":999'), /no message .* at sequence 999/],
  ])('%s', async (_what, spoil, why) => {
    const s = await setUp();
    const loaded = await s.load(spoil(s.text));
    expect(loaded.fromSnapshot).toBe(0);
    expect(loaded.state).toEqual(s.full);
    expect(loaded.version).toBe(s.version);
    expect(s.problems).toHaveLength(1);
    expect(s.problems[0]).toMatch(/not used, replaying the whole log/);
    expect(s.problems[0]).toMatch(why);
  });

  it('the untouched text is used (so the cases above fail for the reason they name)', async () => {
    const s = await setUp();
    const loaded = await s.load(s.text);
    expect(loaded.fromSnapshot).toBe(s.version);
    expect(loaded.state).toEqual(s.full);
    expect(s.problems).toEqual([]);
  });
});

describe('a log cut by retention', () => {
  it('a full replay refuses it (TruncatedHistory); a trusted snapshot inside what is kept still loads', async () => {
    const log = await history([
      { advanceMs: 0, command: () => ({ type: 'create', node: 'a', clients: [{ client: 'aa01' }] }) },
      { advanceMs: 0, command: () => ({ type: 'start', nodes: ['a'] }) },
      { advanceMs: 0, command: () => ({ type: 'reclaim', node: 'a', clients: ['aa01'] }) },
    ], 'all-clear');
    const { messages } = await log.store.readStream(log.subject);
    // The same log without its first decision (what a retention limit leaves), in a fresh store.
    const dropped = new InMemoryCluster('c1');
    for (const m of messages.slice(1)) await dropped.store.appendToStream(dropped.subject, m.message, { expectedVersion: 'any' });
    const refused = loadCluster(dropped.store, dropped.names, 'c1');
    await expect(refused).rejects.toBeInstanceOf(TruncatedHistory);
    await expect(refused).rejects.toThrow(/truncated: its first stored message \(sequence 1, first event ClientRecorded\)/);

    const blobs = new MemorySnapshotBlobs();
    const at = 1; // sequence 1 of `dropped` is the original decision 2
    const state = await stateAt(log, messages[1].sequence);
    await blobs.write(snapshotKey('c1'), encodeSnapshot('c1', undefined, state, at));
    const loaded = await loadCluster(dropped.store, dropped.names, 'c1', { snapshots: { blobs } });
    expect(loaded.fromSnapshot).toBe(1);
    expect(loaded.state).toEqual((await log.load()).state);
  });
});
