import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openGraceStore, OpenedStore } from '#cluster-store';
import { freePort } from '#infra';
import { distMain, ensureBuilt, ROOT } from '#testing';
import { cleanupStream, testNatsUrl, testStreamNames } from '#testing';
import { run } from './support';

/**
 * The deployment entry point as the image, the systemd units and the Kubernetes manifests run it:
 * `gracekeeper <program>` with the admin token in a file, against the real NATS. The image's
 * HEALTHCHECK script must find /health/live on the service it starts.
 */
jest.setTimeout(120_000);
const ENTRY = join(ROOT, 'deploy', 'runtime', 'gracekeeper.js');
const HEALTHCHECK = join(ROOT, 'deploy', 'runtime', 'healthcheck.js');
const TOKEN = 'deploy-e2e-admin-token';
const names = testStreamNames('deploy-runtime');
let opened: OpenedStore;
let coordinator: ChildProcess | undefined;
let port: number;
let output = '';

beforeAll(async () => {
  await ensureBuilt([distMain('grace-coordinator'), distMain('gracectl')]);
  opened = await openGraceStore({ natsUrl: testNatsUrl(), names, name: 'deploy-runtime-e2e' });
  const secrets = mkdtempSync(join(tmpdir(), 'gk-secrets-'));
  writeFileSync(join(secrets, 'admin-token'), `${TOKEN}\n`, { mode: 0o600 });
  port = await freePort();
  coordinator = spawn(process.execPath, [ENTRY, 'coordinator'], {
    env: {
      PATH: process.env.PATH, NATS_URL: testNatsUrl(), GK_PREFIX: names.prefix, GK_CLUSTER: 'deploy',
      GK_ADMIN_PORT: String(port), GK_ADMIN_TOKEN_FILE: join(secrets, 'admin-token'), GK_QUIET: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  coordinator.stdout!.on('data', (d) => { output += d; });
  coordinator.stderr!.on('data', (d) => { output += d; });
  const end = Date.now() + 60_000;
  while (!/listening on port/.test(output)) {
    if (coordinator.exitCode !== null || coordinator.signalCode !== null) throw new Error(`coordinator exited with ${coordinator.exitCode}:\n${output}`);
    if (Date.now() > end) throw new Error(`coordinator did not start within 60 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 180_000);

afterAll(async () => {
  if (coordinator && coordinator.exitCode === null && coordinator.signalCode === null) {
    const exited = new Promise((r) => coordinator!.once('exit', r));
    coordinator.kill('SIGKILL');
    await exited;
  }
  await cleanupStream(opened.nc, names);
  await opened.close();
});

const base = () => `http://127.0.0.1:${port}`;
const healthcheck = (admin: number) => run(process.execPath, [HEALTHCHECK], { env: { PATH: process.env.PATH, GK_ADMIN_PORT: String(admin) } });

describe('deploy/runtime entry point with a real coordinator', () => {
  it('the image HEALTHCHECK passes against the running service', async () => {
    expect(await healthcheck(port)).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('the HEALTHCHECK fails, saying why, when nothing answers', async () => {
    const r = await healthcheck(await freePort());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/health\/live: .*ECONNREFUSED/);
  });

  it('the admin token read from its file guards changes', async () => {
    const add = (token?: string) => fetch(`${base()}/clusters/deploy/add`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify({ nodes: ['a'] }),
    });
    expect((await add()).status).toBe(401);
    expect((await add('wrong-token-value')).status).toBe(401);
    const ok = await add(TOKEN);
    expect({ status: ok.status, body: await ok.json() }).toMatchObject({ status: 200, body: { ok: true } });
  });

  it('gracectl runs through the same entry point', async () => {
    const r = await run(process.execPath, [ENTRY, 'gracectl', '--nats', testNatsUrl(), '--prefix', names.prefix, '--cluster', 'deploy', 'dump'], { env: { PATH: process.env.PATH } });
    expect(r).toEqual({ code: 0, stdout: `cur=1 rec=0\n${'='.repeat(54)}\na\t E\n`, stderr: '' });
  });

  it('serves the process metrics with the prefix once', async () => {
    const metrics = await (await fetch(`${base()}/metrics`)).text();
    expect(metrics).toMatch(/^gk_process_cpu_seconds_total /m);
    expect(metrics).toMatch(/^gk_grace_current_epoch\{cluster="deploy"\} 1$/m);
    expect(metrics).not.toMatch(/gk_process_process_/);
  });

  it('stops on SIGTERM (what docker stop, systemctl stop and Kubernetes send)', async () => {
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => coordinator!.once('exit', (code, signal) => r({ code, signal })));
    const sentAt = Date.now();
    coordinator!.kill('SIGTERM');
    // Nest's shutdown hooks close the app, then re-raise the signal: a clean stop for all three.
    expect([{ code: 0, signal: null }, { code: null, signal: 'SIGTERM' }]).toContainEqual(await exited);
    expect(Date.now() - sentAt).toBeLessThan(10_000);
  });
});
