/**
 * gk-cltrack beside the real nfsdcltrack (Debian's nfs-kernel-server, fetched by
 * test/support/nfsdcltrack.ts): the recorded scenarios hold for nfsdcltrack, every argument
 * form gives both programs the same exit code, and the shipped executable works end to end.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findNfsdcltrack, NFSDCLTRACK_SCENARIOS, playScenario, runNfsdcltrack, FakeAgent } from '#testing';
import { jsonLinesConnector } from './agent-transport';
import { runCltrack } from './cltrack';

const REPO = resolve(__dirname, '..', '..', '..');
jest.setTimeout(120_000);

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'gk-cltrack-parity-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let stores = 0;
function freshStore(): string {
  return join(scratch, `store-${++stores}`);
}

describe('the real nfsdcltrack', () => {
  it('is available (downloaded from Debian, not installed)', () => {
    const where = findNfsdcltrack();
    expect(where).toEqual({ path: expect.any(String) });
  });

  it.each(NFSDCLTRACK_SCENARIOS.map((s) => [s.name, s] as const))('%s', async (_name, scenario) => {
    const store = freshStore();
    const results = await playScenario(scenario, (args, env) => runNfsdcltrack(store, args, env));
    expect(results.map((r) => `${r.step} => ${r.got}`)).toEqual(results.map((r) => `${r.step} => ${r.expected}`));
  });
});

const ARGUMENT_FORMS: Array<[string[], Record<string, string>?]> = [
  [[]],
  [['-d', '-f']],
  [['-h']],
  [['--help']],
  [['--he', 'init']],
  [['-x']],
  [['-dx', 'init']],
  [['-s']],
  [['--storagedir']],
  [['--bogus', 'init']],
  [['--debug=1', 'init']],
  [['init']],
  [['init', 'extra', 'args']],
  [['frobnicate']],
  [['CREATE', '00']],
  [['create']],
  [['create', 'zz']],
  [['create', '0']],
  [['create', '']],
  [['create', 'é0']],
  [['create', '00'.repeat(1024)]],
  [['create', '00'.repeat(1025)]],
  [['create', '0'.repeat(2049)]],
  [['create', `${'00'.repeat(1024)}zz`]],
  [['create', `zz${'00'.repeat(1024)}`]],
  [['create', '01', '02']],
  [['create', '01', '-x']],
  [['create', '01', '-x'], { POSIXLY_CORRECT: '1' }],
  [['remove', '0909']],
  [['remove']],
  [['check', '0909']],
  [['check', 'AbCd']],
  [['check']],
  [['gracedone']],
  ...['0', '', ' 12', '12 ', '0x1f', '0x', '08', '077', '+5', '-1', '99999999999999999999', '-99999999999999999999', '9223372036854775807'].map(
    (t): [string[]] => [['gracedone', t]],
  ),
  [['gracedone', '--', '-1']],
  [['--', '-d']],
  [['-d', '--', 'check', '00']],
];

describe('gk-cltrack and nfsdcltrack give the same exit code', () => {
  let agent: FakeAgent;
  beforeEach(async () => {
    agent = await FakeAgent.start();
  });
  afterEach(async () => {
    await agent.stop();
  });

  it.each(ARGUMENT_FORMS.map(([args, env]) => [args.map((a) => (a.length > 12 ? `${a.slice(0, 6)}…(${a.length})` : a)).join(' '), args, env ?? {}] as const))(
    '[%s]',
    async (_shown, args, env) => {
      const store = freshStore();
      expect(runNfsdcltrack(store, ['init'])).toBe(0);
      const expected = runNfsdcltrack(store, args, env);
      const got = await runCltrack(['/sbin/nfsdcltrack', '-s', agent.dir, ...args], env, {
        connect: jsonLinesConnector(5000),
        stdout: () => undefined,
        stderr: () => undefined,
      });
      expect(got).toBe(expected);
    },
  );
});

describe('bin/gk-cltrack.js', () => {
  let install: string;
  let agent: FakeAgent;
  beforeAll(() => {
    // The executable loads the compiled app from ../dist, as in a built checkout.
    install = join(scratch, 'install');
    mkdirSync(join(install, 'bin'), { recursive: true });
    copyFileSync(join(REPO, 'bin', 'gk-cltrack.js'), join(install, 'bin', 'gk-cltrack.js'));
    // Its `#agent-client` import resolves through package.json, as in a checkout; there is no
    // node_modules here, so this also proves gk-cltrack loads no package (its start-up stays cheap).
    copyFileSync(join(REPO, 'package.json'), join(install, 'package.json'));
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const flags = ['--ignoreConfig', '--rootDir', REPO, '--outDir', join(install, 'dist'), '--module', 'nodenext', '--target', 'es2022', '--strict', '--skipLibCheck', '--types', 'node'];
    execFileSync(process.execPath, [tsc, ...flags, join(REPO, 'apps', 'gk-cltrack', 'src', 'main.ts')], { stdio: 'pipe' });
  });
  beforeEach(async () => {
    agent = await FakeAgent.start();
  });
  afterEach(async () => {
    await agent.stop();
  });

  // Asynchronous: the fake agent answers from this very process.
  const exec = (binDir: string, args: string[], env: Record<string, string> = {}) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
      const child = spawn(process.execPath, [join(binDir, 'bin', 'gk-cltrack.js'), ...args], { env: { GK_AGENT_SOCKET: agent.socketPath, ...env } });
      const out = { stdout: '', stderr: '' };
      child.stdout.on('data', (d) => (out.stdout += d));
      child.stderr.on('data', (d) => (out.stderr += d));
      child.on('close', (status) => done({ status, ...out }));
    });

  it('records and checks clients through the agent socket', async () => {
    expect((await exec(install, ['create', '0A0B'], { NFSDCLTRACK_CLIENT_HAS_SESSION: 'Y' })).status).toBe(0);
    expect((await exec(install, ['check', '0a0b'])).status).toBe(0);
    expect((await exec(install, ['check', '0c0d'])).status).toBe(255);
    expect(agent.requests.map((r) => r.op)).toEqual(['create', 'check', 'check']);
    expect(agent.requests[0]).toEqual({ id: 1, op: 'create', client: '0a0b', hasSession: true });
  });

  it('prints usage for -h and exits 1, as nfsdcltrack does', async () => {
    const r = await exec(install, ['-h']);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^Usage: gk-cltrack.js \[ -hfd \] \[ -s dir \] < cmd > < arg >\n/);
  });

  it('exits 135 with a hint when the app was not built', async () => {
    const unbuilt = join(scratch, 'unbuilt');
    mkdirSync(join(unbuilt, 'bin'), { recursive: true });
    copyFileSync(join(REPO, 'bin', 'gk-cltrack.js'), join(unbuilt, 'bin', 'gk-cltrack.js'));
    const r = await exec(unbuilt, ['check', '00']);
    expect(r.status).toBe(135);
    expect(r.stderr).toContain('npm run build');
  });
});
