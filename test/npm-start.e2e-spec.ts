/**
 * `npm start` as a user runs it (dist/scripts/start.js, its own run directory and prefix): the
 * terminal shows the service lines and our own events, no Nest framework noise; the raw logs are
 * JSON records in the files it names; a service stopped from outside is restarted with the reason
 * of its stop shown; Ctrl-C stops every service with a reason each one logs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { cleanupStream, distMain, ensureBuilt, testDatabaseUrl, testNatsUrl, testStreamNames } from '#testing';

const ROOT = join(__dirname, '..');
const START = join(ROOT, 'dist', 'scripts', 'start.js');
const runDir = mkdtempSync(join(tmpdir(), 'gk-npm-start-'));
const names = testStreamNames('npmstart');
let start: ChildProcess | undefined;
let output = '';

beforeAll(() => ensureBuilt([START, distMain('grace-coordinator'), distMain('client-registry'), distMain('node-agent')]), 180_000);
afterAll(async () => {
  if (start && start.exitCode === null) {
    start.kill('SIGKILL');
  }
  const nc = await connect({ servers: testNatsUrl() });
  await cleanupStream(nc, names).catch(() => undefined);
  await nc.close();
  rmSync(runDir, { recursive: true, force: true });
});

async function until(what: string, check: () => boolean, timeoutMs = 150_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (start?.exitCode !== null && start?.exitCode !== undefined) throw new Error(`npm start exited (${start.exitCode}) while waiting for ${what}:\n${output}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const logOf = (service: string) => readFileSync(join(runDir, 'logs', `${service}.log`), 'utf8');
const records = (service: string) => logOf(service).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; msg: string; context?: string });

describe('npm start', () => {
  it('prints the service lines and our events, not Nest\'s start-up logs, which stay out of the JSON files too', async () => {
    start = spawn(process.execPath, [START], {
      cwd: ROOT,
      env: { ...process.env, GK_RUN_DIR: runDir, GK_PREFIX: names.prefix, GK_CLUSTER: 'npmstart', NATS_URL: testNatsUrl(), DATABASE_URL: testDatabaseUrl(), GK_LOG_FORMAT: '', GK_LOG_LEVEL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    start.stdout!.on('data', (d) => { output += d; });
    start.stderr!.on('data', (d) => { output += d; });
    await until('Gracekeeper is running', () => /Events \(info and above, as they happen\):/.test(output));
    expect(output).toMatch(/client-registry\s+REST http:\/\/127\.0\.0\.1:\d+/);
    expect(output).toMatch(new RegExp(`every service's records \\(JSON lines\\) in .*logs/<service>\\.log`));
    for (const noise of ['[Nest]', 'Mapped {', 'InstanceLoader', 'NestFactory', 'RouterExplorer', '"level"', '\x1b[']) expect(output).not.toContain(noise);
    // The files hold one JSON record per line, our own records, without the framework's chatter.
    const registry = records('client-registry');
    expect(registry.some((r) => /client-registry .* listening on port \d+/.test(r.msg))).toBe(true);
    expect(registry.filter((r) => ['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication'].includes(r.context ?? ''))).toEqual([]);
    expect(records('node-agent-a').some((r) => /node-agent npmstart\/a ready: /.test(r.msg))).toBe(true);
  }, 200_000);

  it('a service stopped from outside says why in its log, and npm start shows it and restarts the service', async () => {
    const state = JSON.parse(readFileSync(join(runDir, 'state.json'), 'utf8')) as { services: { name: string; pid: number }[] };
    const registry = state.services.find((s) => s.name === 'client-registry')!;
    process.kill(registry.pid, 'SIGTERM');
    await until('the restart', () => /✓ client-registry is back/.test(output), 120_000);
    expect(output).toMatch(/✗ client-registry exited with code 0\. Its last records/);
    expect(output).toContain(`stopping: SIGTERM received (sent by another process; Node does not tell which; parent pid ${start!.pid})`);
    expect(output).toMatch(/│.*client-registry\s+stopped \(exit code 0\)/);
  }, 150_000);

  it('Ctrl-C stops every service, each logging who stopped it and why', async () => {
    start!.kill('SIGINT');
    await until('Stopped.', () => /^Stopped\.$/m.test(output), 60_000);
    expect(output).toMatch(/services stopped: node-agent a exited with code 0, .*grace-coordinator exited with code 0/);
    for (const service of ['grace-coordinator', 'client-registry', 'node-agent-a']) {
      expect(logOf(service)).toMatch(/"msg":"stopping: SIGTERM received \(sent by its launcher \(pid \d+\): npm start is stopping \(Ctrl-C\)\)"/);
    }
  }, 90_000);
});

describe('the launcher watch', () => {
  it('a stop signal while a service is still loading is logged, not silent', async () => {
    // A program that needs seconds before it could install its own handlers (as Nest's modules do on a busy machine).
    const child = spawn(process.execPath, ['--require', join(ROOT, 'dist', 'scripts', 'parent-watch.js'), '-e', 'setTimeout(() => {}, 30000)'], {
      env: { PATH: process.env.PATH, GK_PARENT_WATCH: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout!.on('data', (d) => { text += d; });
    const exited = new Promise<[number | null, string | null]>((r) => child.once('exit', (code, signal) => r([code, signal])));
    await new Promise((r) => setTimeout(r, 1500));
    child.stdin!.write('stop the test is done with it\n');
    expect(await exited).toEqual([0, null]);
    expect(JSON.parse(text.trim())).toMatchObject({ level: 'info', signal: 'SIGTERM', msg: `stopping while starting: SIGTERM received (sent by its launcher (pid ${process.pid}): the test is done with it)` });
  }, 30_000);

  it('a worker thread of the service does not stop it (the registry\'s replay worker did: an empty stdin ended at once)', async () => {
    const program = "new (require('node:worker_threads').Worker)('setTimeout(() => {}, 300)', { eval: true }); setTimeout(() => { console.log('alive'); process.exit(7); }, 2000);";
    const child = spawn(process.execPath, ['--require', join(ROOT, 'dist', 'scripts', 'parent-watch.js'), '-e', program], {
      env: { PATH: process.env.PATH, GK_PARENT_WATCH: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout!.on('data', (d) => { text += d; });
    const exited = new Promise<[number | null, string | null]>((r) => child.once('exit', (code, signal) => r([code, signal])));
    expect(await exited).toEqual([7, null]);
    expect(text.trim()).toBe('alive');
  }, 30_000);
});
