import { dumpText, InMemoryLog } from './index';
import { AdminCommand } from './commands';

/** Runs gracectl-like operations and returns the dump, as ganesha-rados-grace would print it. */
function cluster() {
  const log = new InMemoryLog('c1');
  const run = (type: AdminCommand['type'], ...nodes: string[]) => log.execute({ type, nodes } as AdminCommand);
  const dump = () => dumpText(log.load().state);
  return { log, run, dump };
}
const header = (c: number, r: number) => `cur=${c} rec=${r}\n${'='.repeat(54)}\n`;

describe('SPEC §2 operations', () => {
  it('dump format: cur/rec, 54 =, sorted members with tab and N/E columns', () => {
    const { run, dump } = cluster();
    expect(run('add', 'b', 'a').ok).toBe(true);
    expect(dump()).toBe(header(1, 0) + 'a\t E\nb\t E\n');
  });

  it('add joins only missing nodes with ENFORCING, leaves existing members unchanged', () => {
    const { run, dump } = cluster();
    run('add', 'a');
    run('start', 'a');
    expect(run('add', 'a', 'b').ok).toBe(true);
    expect(dump()).toBe(header(2, 1) + 'a\tNE\nb\t E\n');
  });

  it('add with no node ids is refused', () => {
    const { run } = cluster();
    expect(run('add')).toMatchObject({ ok: false, rejection: { code: 'NO_NODES', message: 'Need at least one nodeid.' } });
  });

  it('every operation but add fails on a missing cluster', () => {
    const { run } = cluster();
    for (const op of ['start', 'join', 'enforce', 'noenforce', 'lift', 'remove', 'member'] as const) {
      expect(run(op, 'a')).toMatchObject({ ok: false, rejection: { code: 'NO_CLUSTER' } });
    }
  });

  it('start with R = 0 opens one grace period: R := C, C := C+1, listed nodes get NEED and ENFORCING', () => {
    const { run, dump } = cluster();
    run('add', 'a', 'b');
    run('noenforce', 'a');
    run('start', 'a');
    expect(dump()).toBe(header(2, 1) + 'a\tNE\nb\t E\n');
  });

  it('start with R ≠ 0 joins the grace period in force (no new epoch)', () => {
    const { run, dump } = cluster();
    run('add', 'a', 'b');
    run('start', 'a');
    run('start', 'b');
    expect(dump()).toBe(header(2, 1) + 'a\tNE\nb\tNE\n');
  });

  it('start of a non-member fails and changes nothing', () => {
    const { run, dump } = cluster();
    run('add', 'a');
    expect(run('start', 'a', 'z')).toMatchObject({ ok: false, rejection: { code: 'NOT_MEMBER' } });
    expect(dump()).toBe(header(1, 0) + 'a\t E\n');
  });

  it('join with R = 0 does nothing; with R ≠ 0 it is start', () => {
    const { run, dump, log } = cluster();
    run('add', 'a', 'b');
    const before = log.version;
    expect(run('join', 'a').ok).toBe(true);
    expect(log.version).toBe(before);
    expect(dump()).toBe(header(1, 0) + 'a\t E\nb\t E\n');
    run('start', 'a');
    run('join', 'b');
    expect(dump()).toBe(header(2, 1) + 'a\tNE\nb\tNE\n');
  });

  it('enforce sets ENFORCING; noenforce clears it only while R = 0', () => {
    const { run, dump } = cluster();
    run('add', 'a', 'b');
    run('noenforce', 'a', 'b');
    expect(dump()).toBe(header(1, 0) + 'a\t  \nb\t  \n');
    run('enforce', 'a');
    expect(dump()).toBe(header(1, 0) + 'a\t E\nb\t  \n');
    run('start', 'a');
    expect(run('noenforce', 'a')).toMatchObject({ ok: false, rejection: { code: 'IN_GRACE' } });
  });

  it('lift while some member lacks ENFORCING during grace does nothing', () => {
    const { run, dump } = cluster();
    run('add', 'a', 'b');
    run('noenforce', 'b');
    run('start', 'a');
    expect(run('lift', 'a').ok).toBe(true);
    expect(dump()).toBe(header(2, 1) + 'a\tNE\nb\t  \n');
    run('enforce', 'b');
    run('lift', 'a');
    expect(dump()).toBe(header(2, 0) + 'a\t E\nb\t E\n');
  });

  it('lift clears NEED; the last NEED lifted ends grace (all-reclaimed)', () => {
    const { run, dump, log } = cluster();
    run('add', 'a', 'b');
    run('start', 'a');
    run('start', 'b');
    run('lift', 'a');
    expect(dump()).toBe(header(2, 1) + 'a\t E\nb\tNE\n');
    const r = run('lift', 'b');
    expect(r.ok && r.events.map((e) => e.type)).toEqual(['NeedLifted', 'GraceEnded']);
    expect(log.events.at(-1)).toMatchObject({ type: 'GraceEnded', reason: 'all-reclaimed', recoveryEpoch: 1, epoch: 2 });
    expect(dump()).toBe(header(2, 0) + 'a\t E\nb\t E\n');
  });

  it('remove during grace abandons the node; grace ends when no remaining member needs it', () => {
    const { run, dump, log } = cluster();
    run('add', 'a', 'b', 'c');
    run('start', 'a', 'b');
    run('remove', 'b');
    expect(dump()).toBe(header(2, 1) + 'a\tNE\nc\t E\n');
    run('lift', 'a');
    expect(log.events.at(-1)).toMatchObject({ type: 'GraceEnded', reason: 'all-reclaimed' });
    run('start', 'a');
    run('remove', 'a');
    expect(log.events.at(-1)).toMatchObject({ type: 'GraceEnded', reason: 'removed', abandonedNodes: ['a'] });
    expect(dump()).toBe(header(3, 0) + 'c\t E\n');
  });

  it('remove of a node lacking ENFORCING works during grace', () => {
    const { run, dump } = cluster();
    run('add', 'a', 'b');
    run('noenforce', 'b');
    run('start', 'a');
    expect(run('remove', 'b').ok).toBe(true);
    expect(dump()).toBe(header(2, 1) + 'a\tNE\n');
  });

  it('member succeeds only when every listed node is a member', () => {
    const { run } = cluster();
    run('add', 'a', 'b');
    expect(run('member', 'a', 'b').ok).toBe(true);
    expect(run('member', 'a', 'x')).toMatchObject({ ok: false, rejection: { code: 'NOT_MEMBER', message: 'node x is not a cluster member' } });
  });

  it('commands that take node ids refuse none', () => {
    const { run } = cluster();
    run('add', 'a');
    for (const op of ['start', 'join', 'enforce', 'noenforce', 'lift', 'remove', 'member'] as const) {
      expect(run(op)).toMatchObject({ ok: false, rejection: { code: 'NO_NODES' } });
    }
  });

  it('C only grows, by one per grace period (I5)', () => {
    const { run, log } = cluster();
    run('add', 'a');
    for (let i = 0; i < 3; i++) {
      run('start', 'a');
      run('lift', 'a');
    }
    expect(log.load().state).toMatchObject({ epoch: 4, recoveryEpoch: 0 });
  });
});
