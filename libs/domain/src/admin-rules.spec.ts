import { InMemoryCluster } from '#testing';
import { dumpText } from './index';
import { AdminCommand } from './commands';

/**
 * Runs gracectl-like operations through the services' command handler over the in-memory event
 * store, and returns the dump, as ganesha-rados-grace would print it.
 */
function cluster() {
  const log = new InMemoryCluster('c1');
  const run = (type: AdminCommand['type'], ...nodes: string[]) => log.execute({ type, nodes } as AdminCommand);
  const dump = async () => dumpText((await log.load()).state);
  return { log, run, dump };
}
const header = (c: number, r: number) => `cur=${c} rec=${r}\n${'='.repeat(54)}\n`;

describe('SPEC §2 operations', () => {
  it('dump format: cur/rec, 54 =, sorted members with tab and N/E columns', async () => {
    const { run, dump } = cluster();
    expect((await run('add', 'b', 'a')).ok).toBe(true);
    expect(await dump()).toBe(header(1, 0) + 'a\t E\nb\t E\n');
  });

  it('add joins only missing nodes with ENFORCING, leaves existing members unchanged', async () => {
    const { run, dump } = cluster();
    await run('add', 'a');
    await run('start', 'a');
    expect((await run('add', 'a', 'b')).ok).toBe(true);
    expect(await dump()).toBe(header(2, 1) + 'a\tNE\nb\t E\n');
  });

  it('add with no node ids is refused', async () => {
    const { run } = cluster();
    expect(await run('add')).toMatchObject({ ok: false, rejection: { code: 'NO_NODES', message: 'Need at least one nodeid.' } });
  });

  it('every operation but add fails on a missing cluster', async () => {
    const { run } = cluster();
    for (const op of ['start', 'join', 'enforce', 'noenforce', 'lift', 'remove', 'member'] as const) {
      expect(await run(op, 'a')).toMatchObject({ ok: false, rejection: { code: 'NO_CLUSTER' } });
    }
  });

  it('start with R = 0 opens one grace period: R := C, C := C+1, listed nodes get NEED and ENFORCING', async () => {
    const { run, dump } = cluster();
    await run('add', 'a', 'b');
    await run('noenforce', 'a');
    await run('start', 'a');
    expect(await dump()).toBe(header(2, 1) + 'a\tNE\nb\t E\n');
  });

  it('start with R ≠ 0 joins the grace period in force (no new epoch)', async () => {
    const { run, dump } = cluster();
    await run('add', 'a', 'b');
    await run('start', 'a');
    await run('start', 'b');
    expect(await dump()).toBe(header(2, 1) + 'a\tNE\nb\tNE\n');
  });

  it('start of a non-member fails and changes nothing', async () => {
    const { run, dump } = cluster();
    await run('add', 'a');
    expect(await run('start', 'a', 'z')).toMatchObject({ ok: false, rejection: { code: 'NOT_MEMBER' } });
    expect(await dump()).toBe(header(1, 0) + 'a\t E\n');
  });

  it('join with R = 0 does nothing; with R ≠ 0 it is start', async () => {
    const { run, dump, log } = cluster();
    await run('add', 'a', 'b');
    const before = (await log.version());
    expect((await run('join', 'a')).ok).toBe(true);
    expect((await log.version())).toBe(before);
    expect(await dump()).toBe(header(1, 0) + 'a\t E\nb\t E\n');
    await run('start', 'a');
    await run('join', 'b');
    expect(await dump()).toBe(header(2, 1) + 'a\tNE\nb\tNE\n');
  });

  it('enforce sets ENFORCING; noenforce clears it only while R = 0', async () => {
    const { run, dump } = cluster();
    await run('add', 'a', 'b');
    await run('noenforce', 'a', 'b');
    expect(await dump()).toBe(header(1, 0) + 'a\t  \nb\t  \n');
    await run('enforce', 'a');
    expect(await dump()).toBe(header(1, 0) + 'a\t E\nb\t  \n');
    await run('start', 'a');
    expect(await run('noenforce', 'a')).toMatchObject({ ok: false, rejection: { code: 'IN_GRACE' } });
  });

  it('lift while some member lacks ENFORCING during grace does nothing', async () => {
    const { run, dump } = cluster();
    await run('add', 'a', 'b');
    await run('noenforce', 'b');
    await run('start', 'a');
    expect((await run('lift', 'a')).ok).toBe(true);
    expect(await dump()).toBe(header(2, 1) + 'a\tNE\nb\t  \n');
    await run('enforce', 'b');
    await run('lift', 'a');
    expect(await dump()).toBe(header(2, 0) + 'a\t E\nb\t E\n');
  });

  it('lift clears NEED; the last NEED lifted ends grace (all-reclaimed)', async () => {
    const { run, dump, log } = cluster();
    await run('add', 'a', 'b');
    await run('start', 'a');
    await run('start', 'b');
    await run('lift', 'a');
    expect(await dump()).toBe(header(2, 1) + 'a\t E\nb\tNE\n');
    const r = await run('lift', 'b');
    expect(r.ok && r.events.map((e) => e.type)).toEqual(['NeedLifted', 'GraceEnded']);
    expect((await log.events()).at(-1)).toMatchObject({ type: 'GraceEnded', reason: 'all-reclaimed', recoveryEpoch: 1, epoch: 2 });
    expect(await dump()).toBe(header(2, 0) + 'a\t E\nb\t E\n');
  });

  it('remove during grace abandons the node; grace ends when no remaining member needs it', async () => {
    const { run, dump, log } = cluster();
    await run('add', 'a', 'b', 'c');
    await run('start', 'a', 'b');
    await run('remove', 'b');
    expect(await dump()).toBe(header(2, 1) + 'a\tNE\nc\t E\n');
    await run('lift', 'a');
    expect((await log.events()).at(-1)).toMatchObject({ type: 'GraceEnded', reason: 'all-reclaimed' });
    await run('start', 'a');
    await run('remove', 'a');
    expect((await log.events()).at(-1)).toMatchObject({ type: 'GraceEnded', reason: 'removed', abandonedNodes: ['a'] });
    expect(await dump()).toBe(header(3, 0) + 'c\t E\n');
  });

  it('remove of a node lacking ENFORCING works during grace', async () => {
    const { run, dump } = cluster();
    await run('add', 'a', 'b');
    await run('noenforce', 'b');
    await run('start', 'a');
    expect((await run('remove', 'b')).ok).toBe(true);
    expect(await dump()).toBe(header(2, 1) + 'a\tNE\n');
  });

  it('member succeeds only when every listed node is a member', async () => {
    const { run } = cluster();
    await run('add', 'a', 'b');
    expect((await run('member', 'a', 'b')).ok).toBe(true);
    expect(await run('member', 'a', 'x')).toMatchObject({ ok: false, rejection: { code: 'NOT_MEMBER', message: 'node x is not a cluster member' } });
  });

  it('commands that take node ids refuse none', async () => {
    const { run } = cluster();
    await run('add', 'a');
    for (const op of ['start', 'join', 'enforce', 'noenforce', 'lift', 'remove', 'member'] as const) {
      expect(await run(op)).toMatchObject({ ok: false, rejection: { code: 'NO_NODES' } });
    }
  });

  it('C only grows, by one per grace period (I5)', async () => {
    const { run, log } = cluster();
    await run('add', 'a');
    for (let i = 0; i < 3; i++) {
      await run('start', 'a');
      await run('lift', 'a');
    }
    expect((await log.load()).state).toMatchObject({ epoch: 4, recoveryEpoch: 0 });
  });
});
