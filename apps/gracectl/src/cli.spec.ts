import { parseArgs, secondsOption, UsageError } from './args';
import { COMMANDS, GLOBAL_OPTIONS, runGracectl } from './cli';
import { StreamMissing } from '#event-store';
import { statusText } from './status-text';

/** Runs gracectl with a store opener that must not be reached (these cases never need NATS). */
async function run(...argv: string[]) {
  let out = '';
  let err = '';
  let opened = false;
  const code = await runGracectl(argv, {}, {
    stdout: (t) => { out += t; },
    stderr: (t) => { err += t; },
    open: async () => {
      opened = true;
      throw new Error('no NATS in unit tests');
    },
  });
  return { code, out, err, opened };
}

describe('gracectl argument parsing', () => {
  const known = [...GLOBAL_OPTIONS, { name: 'grace-time', value: true, description: '' }];

  it('takes options before or after the command, in both spellings, and -- ends them', () => {
    expect(parseArgs(['--cluster', 'c1', 'add', 'a', '--nats=nats://x:1', '--', '--odd'], known)).toEqual({
      operands: ['add', 'a', '--odd'],
      options: new Map([['cluster', 'c1'], ['nats', 'nats://x:1']]),
    });
  });

  it.each([
    [['--bogus']],
    [['-x']],
    [['--cluster']],
    [['--cluster=']],
    [['--help=yes']],
  ])('refuses %j as a usage error', (argv) => {
    expect(() => parseArgs(argv, known)).toThrow(UsageError);
  });

  it('reads seconds as whole milliseconds', () => {
    expect(secondsOption(new Map([['grace-time', '1.5']]), 'grace-time')).toBe(1500);
    for (const bad of ['0', '-1', 'abc', '1e3', '0.0001']) {
      expect(() => secondsOption(new Map([['grace-time', bad]]), 'grace-time')).toThrow(UsageError);
    }
  });
});

describe('gracectl without NATS', () => {
  it('prints the usage with --help and exits 0, listing every command', async () => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.out).toContain(`  ${c.name}`);
  });

  it.each(['add', 'start', 'join', 'lift', 'remove', 'enforce', 'noenforce', 'member'])(
    '%s without node ids says "Need at least one nodeid." and fails with status 1 before connecting',
    async (command) => {
      const r = await run(command);
      expect(r).toMatchObject({ code: 1, out: '', opened: false });
      expect(r.err).toBe('Need at least one nodeid.\nFailure: need at least one nodeid\n');
    },
  );

  it.each([
    ['an unknown command', ['frobnicate', 'a'], /unknown command "frobnicate"/],
    ['an unknown option', ['--pool', 'x', 'dump'], /unknown option --pool/],
    ['an option of another command', ['dump', '--grace-time', '3'], /--grace-time does not apply to dump/],
    ['an invalid node id', ['add', 'a b'], /invalid node id "a b"/],
    ['an invalid cluster id', ['--cluster', 'a.b', 'dump'], /invalid cluster id/],
    ['node ids given to dump', ['dump', 'a'], /dump takes no node ids/],
    ['configure with nothing to change', ['configure'], /configure needs at least one/],
    ['a bad policy', ['configure', '--deadline-policy', 'never'], /--deadline-policy must be one of abandon, wait/],
    ['a bad liveness policy', ['configure', '--liveness-policy', 'reboot'], /--liveness-policy must be one of wait, start-grace, move/],
    ['detection off with a policy', ['configure', '--dead-after', 'off', '--liveness-policy', 'move'], /--dead-after off turns detection off/],
    ['a bad standby', ['configure', '--standby', 'a b'], /--standby wants a node id/],
    ['liveness options on add', ['add', 'a', '--dead-after', '3'], /--dead-after does not apply to add/],
  ])('exits 2 on %s', async (_, argv, message) => {
    const r = await run(...argv);
    expect(r).toMatchObject({ code: 2, out: '', opened: false });
    expect(r.err).toMatch(message);
    expect(r.err).toMatch(/^Usage: gracectl/m);
  });

  it('reports an unreachable NATS as a failure (status 1)', async () => {
    const r = await run('dump');
    expect(r).toMatchObject({ code: 1, out: '', opened: true });
    expect(r.err).toBe('Failure: cannot reach NATS at nats://127.0.0.1:4222: no NATS in unit tests\n');
  });

  it('only init and add may create the event stream; a missing stream is said plainly', async () => {
    const asked: Array<[string, boolean]> = [];
    for (const argv of [['init'], ['add', 'a'], ['dump'], ['start', 'a'], ['remove', 'a']]) {
      let err = '';
      await runGracectl(argv, {}, {
        stdout: () => undefined,
        stderr: (t) => { err += t; },
        open: async (_url, ctx) => {
          asked.push([argv[0]!, ctx.createStream]);
          throw new StreamMissing('GK_EVENTS');
        },
      });
      expect(err).toMatch(/^Failure: the event stream GK_EVENTS does not exist.*gracectl init/);
    }
    expect(asked).toEqual([['init', true], ['add', true], ['dump', false], ['start', false], ['remove', false]]);
  });
});

describe('gracectl status text', () => {
  const base = {
    cluster: 'c1', epoch: 3, recoveryEpoch: 2, inGrace: true, nonReclaimGranted: false,
    members: [{ node: 'a', need: true, enforcing: true }, { node: 'b', need: false, enforcing: true }],
    needing: ['a'],
    config: { graceTimeMs: 90_000, leaseTimeMs: 45_000, deadlinePolicy: 'abandon' as const, exitPolicy: 'all-clear' as const },
    graceStartedAt: '2026-01-01T00:00:00.000Z',
    deadline: '2026-01-01T00:01:30.000Z',
    reclaimsAccepted: 7,
    lastGraceEnd: { recoveryEpoch: 1, reason: 'deadline', at: '2025-12-31T23:00:00.000Z', abandonedNodes: ['b'] },
  };

  it('shows epochs, time in grace, deadline, reclaims, members, config and the last end', () => {
    const text = statusText(base, Date.parse('2026-01-01T00:00:30.000Z'));
    expect(text).toBe([
      'cluster:        c1',
      'epochs:         current 3, recovery 2 (grace in force)',
      'grace started:  2026-01-01T00:00:00.000Z (30.0 s ago)',
      'deadline:       2026-01-01T00:01:30.000Z (in 60.0 s, policy abandon)',
      'reclaims:       7 accepted so far',
      'needing grace:  a',
      'members:        2',
      '  a\tNE  NEED, ENFORCING',
      '  b\t E  ENFORCING',
      'config:         grace time 90 s, lease time 45 s, deadline policy abandon, exit policy all-clear',
      'last grace end: recovery epoch 1, deadline, at 2025-12-31T23:00:00.000Z (60.5 min ago), abandoned b',
      '',
    ].join('\n'));
  });

  it('says when no grace is in force', () => {
    const text = statusText({ ...base, recoveryEpoch: 0, inGrace: false, needing: [], graceStartedAt: undefined, deadline: undefined, lastGraceEnd: undefined }, 0);
    expect(text).toMatch(/recovery 0 \(no grace in force\)/);
    expect(text).not.toMatch(/deadline:/);
  });

  it('shows silent identities with how long, and the liveness configuration', () => {
    const summary = {
      ...base,
      config: { ...base.config, liveness: { deadAfterMs: 5000, policy: 'move' as const, standby: 'a' } },
      silent: [{ node: 'b', host: 'b', since: '2026-01-01T00:00:10.000Z', reportedAt: '2026-01-01T00:00:15.000Z', silentForMs: 5000 }],
    };
    const text = statusText(summary, Date.parse('2026-01-01T00:00:30.000Z'));
    expect(text).toContain([
      'silent:         1 identity whose host sends no heartbeat',
      '  b\thost b, silent for 20.0 s (since 2026-01-01T00:00:10.000Z)',
      'config:         grace time 90 s, lease time 45 s, deadline policy abandon, exit policy all-clear',
      'liveness:       dead after 5 s without a heartbeat, policy move, standby a',
    ].join('\n'));
    expect(statusText(base, 0)).not.toMatch(/silent|liveness/);
  });
});

describe('commands that take no operands', () => {
  it.each(COMMANDS.filter((c) => c.noOperands).map((c) => c.name))('%s refuses node ids as a usage error, before reaching NATS', async (name) => {
    expect(await run(name, 'a', 'b')).toEqual({ code: 2, out: '', err: expect.stringMatching(new RegExp(`^gracectl: ${name} takes no node ids \\(got a b\\)\\n`)), opened: false });
  });

  it('are the read-only and whole-cluster ones', () => {
    expect(COMMANDS.filter((c) => c.noOperands).map((c) => c.name).sort()).toEqual(['audit', 'configure', 'dump', 'init', 'replay', 'status']);
  });
});
