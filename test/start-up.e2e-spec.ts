/**
 * Coordinator and registry started before their dependencies: they stay up, say not-ready on
 * /health (live on /health/live), retry with back-off, and become ready once the dependency is
 * there. The coordinator's NATS is a nats-server this test starts itself, later, on a free port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { provisionStream } from '#event-store';
import { freePort, type NatsServer, startNatsServer } from '#infra';
import { cleanupStream, distMain, ensureBuilt, testNatsUrl, testStreamNames } from '#testing';

const children: ChildProcess[] = [];
let nats: NatsServer | undefined;

beforeAll(() => ensureBuilt([distMain('grace-coordinator'), distMain('client-registry')]), 180_000);
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await nats?.stop();
});

async function startService(app: string, env: Record<string, string>) {
  const port = await freePort();
  const child = spawn(process.execPath, [distMain(app)], {
    env: { PATH: process.env.PATH, GK_ADMIN_PORT: String(port), GK_QUIET: '1', GK_REPLICA: `startup-${process.pid}`, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (d) => { output += d; });
  child.stderr!.on('data', (d) => { output += d; });
  const get = async (path: string) => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`).catch(() => undefined);
    return r ? { status: r.status, body: await r.json().catch(() => undefined) } : { status: 0, body: undefined };
  };
  const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (child.exitCode !== null) throw new Error(`${app} exited with ${child.exitCode} while waiting for ${what}:\n${output}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return { child, get, until, output: () => output };
}

describe('start-up before the dependencies', () => {
  it('the coordinator waits for NATS, not-ready on /health, then becomes ready when NATS starts', async () => {
    const natsPort = await freePort();
    const names = testStreamNames('startup');
    const coordinator = await startService('grace-coordinator', { NATS_URL: `nats://127.0.0.1:${natsPort}`, GK_PREFIX: names.prefix, GK_CLUSTER: 'startup' });
    await coordinator.until('/health/live', async () => (await coordinator.get('/health/live')).status === 200);
    const waiting = await coordinator.get('/health');
    expect(waiting).toMatchObject({ status: 503, body: { status: 'error', error: { nats: { status: 'down', message: expect.stringContaining(`127.0.0.1:${natsPort}: ECONNREFUSED`) } } } });
    // Several attempts, and still running.
    await coordinator.until('a second attempt', async () => /attempt 2, next in \d+ ms/.test(coordinator.output()));
    expect(coordinator.child.exitCode).toBeNull();
    expect(coordinator.output()).toMatch(/"service":"grace-coordinator".*"msg":"not ready, waiting for nats \(no NATS server reachable/);

    nats = await startNatsServer({ port: natsPort });
    // The stream exists as an operator's `gracectl init` would leave it (services need not create it).
    const nc = await connect({ servers: nats.url });
    await provisionStream(await jetstreamManager(nc), names);
    await coordinator.until('ready', async () => (await coordinator.get('/health')).status === 200, 60_000);
    expect((await coordinator.get('/health')).body).toMatchObject({ status: 'ok', info: { nats: { status: 'up' } } });
    expect(coordinator.output()).toMatch(/listening on port \d+/);
    await cleanupStream(nc, names);
    await nc.close();
  }, 120_000);

  it('the registry waits for PostgreSQL, not-ready on /health, instead of exiting', async () => {
    const pgPort = await freePort();
    const names = testStreamNames('startup-registry');
    const registry = await startService('client-registry', { NATS_URL: testNatsUrl(), GK_PREFIX: names.prefix, DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/test` });
    await registry.until('a second attempt', async () => /attempt 2, next in \d+ ms/.test(registry.output()));
    expect(await registry.get('/health')).toMatchObject({ status: 503, body: { error: { postgres: { status: 'down', message: expect.stringContaining('ECONNREFUSED') } } } });
    expect((await registry.get('/health/live')).status).toBe(200);
    expect((await registry.get('/clusters/x/clients')).status).toBe(503);
    expect(registry.child.exitCode).toBeNull();
  }, 60_000);
});
