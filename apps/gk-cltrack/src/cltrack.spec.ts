import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonLinesConnector } from './agent-transport';
import { FakeAgent } from '#testing';
import { type CltrackEnv, runCltrack } from './cltrack';

let agent: FakeAgent;
beforeEach(async () => {
  agent = await FakeAgent.start();
});
afterEach(async () => {
  await agent.stop();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(args: string[], env: CltrackEnv = {}, timeoutMs = 2000): Promise<Run> {
  const out = { stdout: '', stderr: '' };
  const code = await runCltrack(['/sbin/gk-cltrack', ...args], { GK_AGENT_SOCKET: agent.socketPath, ...env }, {
    connect: jsonLinesConnector(timeoutMs),
    stdout: (t) => (out.stdout += t),
    stderr: (t) => (out.stderr += t),
  });
  return { code, ...out };
}
const code = async (args: string[], env?: CltrackEnv) => (await run(args, env)).code;

describe('gk-cltrack requests to the node-agent', () => {
  it('create sends the client as lowercase hex with hasSession from NFSDCLTRACK_CLIENT_HAS_SESSION', async () => {
    expect(await code(['create', '01AbFf'], { NFSDCLTRACK_CLIENT_HAS_SESSION: 'Y' })).toBe(0);
    expect(await code(['create', '02'], { NFSDCLTRACK_CLIENT_HAS_SESSION: 'N' })).toBe(0);
    expect(await code(['create', '03'], { NFSDCLTRACK_CLIENT_HAS_SESSION: 'yes' })).toBe(0);
    expect(await code(['create', '04'])).toBe(0);
    expect(agent.requests).toEqual([
      { id: 1, op: 'create', client: '01abff', hasSession: true },
      { id: 1, op: 'create', client: '02', hasSession: false },
      { id: 1, op: 'create', client: '03', hasSession: false },
      { id: 1, op: 'create', client: '04', hasSession: false },
    ]);
  });

  it('check answers 0 for a recorded client and 255 (-EPERM) for NFS4ERR_RECLAIM_BAD', async () => {
    await code(['create', 'aa']);
    expect(await code(['check', 'AA'], { NFSDCLTRACK_CLIENT_HAS_SESSION: 'N' })).toBe(0);
    expect(await code(['check', 'bb'])).toBe(255);
    expect(agent.requests.slice(1)).toEqual([
      { id: 1, op: 'check', client: 'aa', hasSession: false, reclaim: true },
      { id: 1, op: 'check', client: 'bb', hasSession: false, reclaim: true },
    ]);
  });

  it('remove succeeds for a client the agent does not know', async () => {
    expect(await code(['remove', '0909'])).toBe(0);
    expect(agent.requests).toEqual([{ id: 1, op: 'remove', client: '0909' }]);
  });

  it.each([
    ['1700000000', 1700000000],
    ['0x10', 16],
    ['010', 8],
    ['  42', 42],
    ['-5', -5],
    ['abc', 0],
    ['12abc', 12],
    ['', 0],
  ])('init sends grace_start with NFSDCLTRACK_GRACE_START=%j read by strtol as %j', async (raw, graceStart) => {
    expect(await code(['init'], { NFSDCLTRACK_GRACE_START: raw })).toBe(0);
    expect(agent.requests).toEqual([{ id: 1, op: 'grace_start', graceStart, liftIfDone: true }]);
  });

  it.each([[undefined], ['99999999999999999999'], ['9223372036854775807'], ['-99999999999999999999']])(
    'init only checks the agent is there (hello) when NFSDCLTRACK_GRACE_START is %j (nfsdcltrack: unknown, no grace change)',
    async (raw) => {
      expect(await code(['init', 'ignored', 'extra'], { NFSDCLTRACK_GRACE_START: raw })).toBe(0);
      expect(agent.requests).toEqual([{ id: 1, op: 'hello' }]);
    },
  );

  it.each(['1700000000', '', ' 7', '0x1f', '077'])('gracedone %j sends grace_done without waiting', async (arg) => {
    expect(await code(['gracedone', arg])).toBe(0);
    expect(agent.requests).toEqual([{ id: 1, op: 'grace_done', wait: false }]);
  });
});

describe('gk-cltrack exit codes for bad invocations (nfsdcltrack.c)', () => {
  it.each([
    ['no command', [], 234],
    ['only options', ['-d', '-f'], 234],
    ['an unknown command', ['frobnicate', '00'], 218],
    ['an unknown command without argument', ['frobnicate'], 218],
    ['a command name in the wrong case', ['CREATE', '00'], 218],
    ['create without argument', ['create'], 234],
    ['check without argument', ['check'], 234],
    ['remove without argument', ['remove'], 234],
    ['gracedone without argument', ['gracedone'], 234],
    ['a non-hex client ID', ['create', 'zz'], 234],
    ['an odd-length client ID', ['check', '012'], 234],
    ['a client ID with a space', ['remove', '01 2'], 234],
    ['a 1025-byte client ID', ['create', '00'.repeat(1025)], 151],
    ['2049 hex digits', ['create', '0'.repeat(2049)], 151],
    ['1025 bytes ending in a bad digit', ['create', `${'00'.repeat(1024)}zz`], 151],
    ['a bad digit before the limit', ['create', `zz${'00'.repeat(1024)}`], 234],
    ['a non-number grace time', ['gracedone', 'abc'], 234],
    ['a grace time with trailing bytes', ['gracedone', '12 '], 234],
    ['an octal grace time with 8', ['gracedone', '08'], 234],
    ['a bare 0x grace time', ['gracedone', '0x'], 234],
    ['an overflowing grace time', ['gracedone', '99999999999999999999'], 222],
    ['an overflowing grace time with junk', ['gracedone', '99999999999999999999zz'], 222],
  ])('%s: %j exits %i', async (_label, args, expected) => {
    expect(await code(args as string[])).toBe(expected);
    expect(agent.requests).toEqual([]);
  });

  it('accepts a client ID of exactly 1024 bytes and an empty one', async () => {
    expect(await code(['create', 'ab'.repeat(1024)])).toBe(0);
    expect(await code(['create', ''])).toBe(0);
    expect(agent.requests.map((r) => r.client)).toEqual(['ab'.repeat(1024), '']);
  });

  it('ignores arguments after the one the command takes', async () => {
    expect(await code(['create', '01', '02', '03'])).toBe(0);
    expect(agent.requests).toEqual([{ id: 1, op: 'create', client: '01', hasSession: false }]);
  });
});

describe('gk-cltrack option parsing (GNU getopt_long)', () => {
  const usageFirstLine = 'Usage: gk-cltrack [ -hfd ] [ -s dir ] < cmd > < arg >\n';

  it.each([[['-h']], [['--help']], [['--he', 'init']], [['create', '01', '-h']]])('%j prints usage on stdout and exits 1', async (args) => {
    const r = await run(args);
    expect(r).toMatchObject({ code: 1, stderr: '' });
    expect(r.stdout.startsWith(usageFirstLine)).toBe(true);
    expect(r.stdout).toContain('    gracedone <epoch time>\n');
    expect(agent.requests).toEqual([]);
  });

  it.each([
    [['-x', 'init'], "/sbin/gk-cltrack: invalid option -- 'x'\n"],
    [['-dx', 'init'], "/sbin/gk-cltrack: invalid option -- 'x'\n"],
    [['-s'], "/sbin/gk-cltrack: option requires an argument -- 's'\n"],
    [['--storagedir'], "/sbin/gk-cltrack: option '--storagedir' requires an argument\n"],
    [['--bogus', 'init'], "/sbin/gk-cltrack: unrecognized option '--bogus'\n"],
    [['--debug=yes', 'init'], "/sbin/gk-cltrack: option '--debug' doesn't allow an argument\n"],
    [['init', '-x'], "/sbin/gk-cltrack: invalid option -- 'x'\n"],
  ])('%j reports the error as glibc does, prints usage and exits 1', async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(message);
    expect(r.stdout.startsWith(usageFirstLine)).toBe(true);
  });

  it('stops at the first operand when POSIXLY_CORRECT is set', async () => {
    expect(await code(['create', '01', '-x'], { POSIXLY_CORRECT: '1' })).toBe(0);
    expect(await code(['create', '01', '-x'])).toBe(1);
  });

  it('treats everything after -- as operands', async () => {
    expect(await code(['--', '-d'])).toBe(218);
    expect(await code(['-d', '--', 'check', '00'])).toBe(255);
    expect(await code(['gracedone', '--', '-1'])).toBe(0);
  });

  it('takes a negative grace time for options, as getopt does', async () => {
    expect((await run(['gracedone', '-1'])).stderr).toBe("/sbin/gk-cltrack: invalid option -- '1'\n");
  });

  describe('without GK_AGENT_SOCKET', () => {
    it.each([
      [['-s', '{dir}', 'create', '01']],
      [['-s{dir}', 'create', '01']],
      [['--storagedir={dir}', 'create', '01']],
      [['--stor', '{dir}', 'create', '01']],
      [['create', '-s', '{dir}', '01']],
      [['-dfs', '{dir}', 'create', '01']],
    ])('%j finds the agent socket in the storage directory', async (args) => {
      const r = await run(args.map((a) => a.replace('{dir}', agent.dir)), { GK_AGENT_SOCKET: '' });
      expect(r.code).toBe(0);
      expect(agent.requests).toHaveLength(1);
    });
  });

  it('prefers GK_AGENT_SOCKET over -s', async () => {
    expect(await code(['-s', '/nonexistent', 'create', '01'])).toBe(0);
  });
});

describe('gk-cltrack when the node-agent fails', () => {
  const unreachable = { GK_AGENT_SOCKET: '/nonexistent/agent.sock' };

  it.each([
    [['create', '01'], 135],
    [['remove', '01'], 135],
    [['check', '01'], 135],
    [['gracedone', '0'], 135],
    // nfsdcltrack's init maps every storage failure to -EACCES.
    [['init'], 243],
    // Reaching the store comes before parsing the argument, as in nfsdcltrack.
    [['create', 'zz'], 135],
    [['gracedone', 'abc'], 135],
  ])('%j exits %i when the socket is unreachable', async (args, expected) => {
    expect(await code(args, unreachable)).toBe(expected);
  });

  it.each([
    [['create', '01'], 135],
    [['remove', '01'], 135],
    [['gracedone', '1'], 135],
    [['init'], 243],
    // Any failed check means "may not reclaim", as sqlite errors do in nfsdcltrack.
    [['check', '01'], 255],
  ])('%j exits %i when the agent answers ERR_BAD_REQUEST', async (args, expected) => {
    agent.respond = () => ({ status: 'ERR_BAD_REQUEST', error: 'no' });
    expect(await code(args)).toBe(expected);
  });

  it.each(['close', 'garbage', 'silence'] as const)('a create exits 135 when the agent answers with %s', async (failure) => {
    agent.respond = () => failure;
    const started = Date.now();
    expect((await run(['create', '01'], {}, 300)).code).toBe(135);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a check exits 135 when the agent hangs up', async () => {
    agent.respond = () => 'close';
    expect(await code(['check', '01'])).toBe(135);
  });

  it('logs failures to stderr only with -f', async () => {
    expect((await run(['check', '01'], unreachable)).stderr).toBe('');
    const r = await run(['-f', 'check', '01'], unreachable);
    expect(r.stderr).toMatch(/^gk-cltrack: unable to reach the node-agent at \/nonexistent\/agent.sock/);
  });
});

describe('gk-cltrack legacy recovery directories', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gk-legacy-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('imports a client found only in NFSDCLTRACK_LEGACY_RECDIR and removes that directory', async () => {
    const recdir = join(dir, '0123456789abcdef0123456789abcdef');
    mkdirSync(recdir);
    expect(await code(['check', '0a0b'], { NFSDCLTRACK_LEGACY_RECDIR: recdir, NFSDCLTRACK_CLIENT_HAS_SESSION: 'Y' })).toBe(0);
    expect(existsSync(recdir)).toBe(false);
    expect(agent.requests.map((r) => r.op)).toEqual(['check', 'create']);
    expect(agent.requests[1]).toEqual({ id: 2, op: 'create', client: '0a0b', hasSession: true });
  });

  it('denies the check when the legacy directory does not exist', async () => {
    expect(await code(['check', '0a0b'], { NFSDCLTRACK_LEGACY_RECDIR: join(dir, 'missing') })).toBe(255);
    expect(agent.requests.map((r) => r.op)).toEqual(['check']);
  });

  it('empties NFSDCLTRACK_LEGACY_TOPDIR on gracedone', async () => {
    mkdirSync(join(dir, 'a'));
    mkdirSync(join(dir, 'b'));
    expect(await code(['gracedone', '5'], { NFSDCLTRACK_LEGACY_TOPDIR: dir })).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
  });
});
