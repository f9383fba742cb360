import { ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { GkEvent, subjects } from '#contracts';
import { loadCluster, openGraceStore, OpenedStore } from '#cluster-store';
import { freePort } from '#infra';
import { distMain, ensureBuilt, ROOT, cleanupStream, testNatsUrl, testStreamNames } from '#testing';

/**
 * The grace-coordinator as deployed: separate processes (node dist/apps/grace-coordinator/...)
 * against the real JetStream, driven with gracectl processes and curl-like REST calls.
 */
jest.setTimeout(120_000);
const names = testStreamNames('coordinator');
const TOKEN = 'e2e-admin-token-1';
const RULE = '='.repeat(54);
const table = (cur: number, rec: number, ...rows: string[]) => [`cur=${cur} rec=${rec}`, RULE, ...rows].join('\n') + '\n';
let opened: OpenedStore;
const running: Coordinator[] = [];

beforeAll(async () => {
  await ensureBuilt([distMain('gracectl'), distMain('grace-coordinator')]);
  opened = await openGraceStore({ natsUrl: testNatsUrl(), names, name: 'coordinator-e2e' });
}, 180_000);

afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop('SIGKILL')));
});

afterAll(async () => {
  await cleanupStream(opened.nc, names);
  await opened.close();
});

interface Coordinator {
  replica: string;
  base: string;
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

async function startCoordinator(replica: string, clusters: string[]): Promise<Coordinator> {
  const port = await freePort();
  const child = spawn(process.execPath, [distMain('grace-coordinator')], {
    env: {
      PATH: process.env.PATH, NATS_URL: testNatsUrl(), GK_PREFIX: names.prefix, GK_CLUSTERS: clusters.join(','),
      GK_ADMIN_PORT: String(port), GK_ADMIN_TOKEN: TOKEN, GK_REPLICA: replica, GK_QUIET: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => { output += d; });
  child.stderr!.on('data', (d) => { output += d; });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const c: Coordinator = {
    replica, child, base: `http://127.0.0.1:${port}`, output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  running.push(c);
  await until(`coordinator ${replica} to be ready`, async () => {
    if (child.exitCode !== null) throw new Error(`coordinator ${replica} exited with ${child.exitCode}:\n${output}`);
    return (await fetch(`${c.base}/health`).then((r) => r.status, () => 0)) === 200;
  });
  return c;
}

interface Run { code: number; stdout: string; stderr: string }
function gracectl(cluster: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'bin', 'gracectl.js'), '--nats', testNatsUrl(), '--prefix', names.prefix, '--cluster', cluster, ...args],
      { env: { PATH: process.env.PATH }, timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
      });
  });
}
async function ok(cluster: string, ...args: string[]): Promise<void> {
  expect(await gracectl(cluster, ...args)).toEqual({ code: 0, stdout: '', stderr: '' });
}
async function dump(cluster: string): Promise<string> {
  const r = await gracectl(cluster, 'dump');
  expect(r.code).toBe(0);
  return r.stdout;
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function events(cluster: string): Promise<GkEvent[]> {
  return (await opened.store.readStream(subjects.cluster(names, cluster))).messages.flatMap((m) => m.message.events);
}
const ofType = <T extends GkEvent['type']>(list: GkEvent[], type: T) => list.filter((e): e is Extract<GkEvent, { type: T }> => e.type === type);

const graceOver = (cluster: string) => until(`grace of ${cluster} to end`, async () => (await loadCluster(opened.store, names, cluster)).state.recoveryEpoch === 0);

async function metric(c: Coordinator, line: RegExp): Promise<number> {
  const text = await (await fetch(`${c.base}/metrics`)).text();
  const found = text.split('\n').find((l) => line.test(l));
  return found ? Number(found.split(' ').pop()) : 0;
}

describe('grace-coordinator deadlines', () => {
  it('abandon: ends the grace period at its deadline and abandons the member that still needs it', async () => {
    const c = 'abandon';
    await ok(c, 'add', '--grace-time', '1.5', '--lease-time', '1', 'a', 'b');
    const coordinator = await startCoordinator('abandon-1', [c]);
    await ok(c, 'start', 'a');
    await graceOver(c);
    expect(await dump(c)).toBe(table(2, 0, 'a\t E', 'b\t E'));
    const log = await events(c);
    const [started] = ofType(log, 'GraceStarted');
    const ended = ofType(log, 'GraceEnded');
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatchObject({ recoveryEpoch: 1, reason: 'deadline', abandonedNodes: ['a'], actor: 'coordinator:abandon-1' });
    expect(Date.parse(ended[0]!.time)).toBeGreaterThanOrEqual(Date.parse(started!.time) + 1500);
    expect(await metric(coordinator, /^gk_grace_ended_total\{cluster="abandon",reason="deadline"\}/)).toBe(1);
  });

  it('wait: past the deadline grace stays while a member needs it; a lift, or switching to abandon, ends it', async () => {
    const c = 'wait';
    await ok(c, 'add', '--grace-time', '1', '--lease-time', '1', '--deadline-policy', 'wait', 'a', 'b');
    const coordinator = await startCoordinator('wait-1', [c]);
    const waited = () => metric(coordinator, /^gk_coordinator_deadline_checks_total\{cluster="wait",outcome="wait-policy"\}/);

    await ok(c, 'start', 'a');
    await until('the coordinator to find the deadline passed and keep grace (wait policy)', async () => (await waited()) >= 1);
    expect(await dump(c)).toBe(table(2, 1, 'a\tNE', 'b\t E'));
    await ok(c, 'lift', 'a');
    expect(await dump(c)).toBe(table(2, 0, 'a\t E', 'b\t E'));

    await ok(c, 'start', 'b');
    await until('the second wait', async () => (await waited()) >= 2);
    expect(await dump(c)).toBe(table(3, 2, 'a\t E', 'b\tNE'));
    await ok(c, 'configure', '--deadline-policy', 'abandon');
    await graceOver(c);
    expect(ofType(await events(c), 'GraceEnded').map((e) => [e.recoveryEpoch, e.reason, e.abandonedNodes, e.actor])).toEqual([
      [1, 'all-reclaimed', [], expect.stringMatching(/^gracectl:/)],
      [2, 'deadline', ['b'], 'coordinator:wait-1'],
    ]);
  });

  it('a coordinator killed in the middle of a grace period: its successor ends it at the deadline derived from the events', async () => {
    const c = 'restart';
    await ok(c, 'add', '--grace-time', '6', '--lease-time', '1', 'a', 'b');
    const first = await startCoordinator('restart-1', [c]);
    await ok(c, 'start', 'a');
    await until('the first coordinator to see the grace period', async () => (await metric(first, /^gk_grace_recovery_epoch\{cluster="restart"\}/)) === 1);
    await first.stop('SIGKILL');
    const second = await startCoordinator('restart-2', [c]);
    expect(await metric(second, /^gk_grace_recovery_epoch\{cluster="restart"\}/)).toBe(1);
    await graceOver(c);
    const log = await events(c);
    const [started] = ofType(log, 'GraceStarted');
    const ended = ofType(log, 'GraceEnded');
    expect(ended.map((e) => [e.reason, e.abandonedNodes, e.actor])).toEqual([['deadline', ['a'], 'coordinator:restart-2']]);
    expect(Date.parse(ended[0]!.time)).toBeGreaterThanOrEqual(Date.parse(started!.time) + 6000);
  });

  it('a deadline that passed while no coordinator ran is honoured as soon as one starts', async () => {
    const c = 'nobody';
    await ok(c, 'add', '--grace-time', '1', '--lease-time', '1', 'a', 'b');
    await ok(c, 'start', 'a', 'b');
    const [started] = ofType(await events(c), 'GraceStarted');
    await until('the deadline to pass', () => Date.now() > Date.parse(started!.time) + 1500);
    expect(await dump(c)).toBe(table(2, 1, 'a\tNE', 'b\tNE')); // nothing but a coordinator ends grace by time
    await startCoordinator('nobody-1', [c]);
    await graceOver(c);
    expect(ofType(await events(c), 'GraceEnded').map((e) => [e.reason, e.abandonedNodes, e.actor])).toEqual([['deadline', ['a', 'b'], 'coordinator:nobody-1']]);
  });

  it('two replicas on one cluster: every grace period ends exactly once', async () => {
    const c = 'replicas';
    await ok(c, 'add', '--grace-time', '1', '--lease-time', '1', 'a', 'b');
    const replicas = [await startCoordinator('rep-1', [c]), await startCoordinator('rep-2', [c])];
    for (let round = 1; round <= 3; round++) {
      await ok(c, 'start', 'a');
      await graceOver(c);
    }
    const last = await opened.store.currentVersion(subjects.cluster(names, c));
    await until('both replicas to apply every decision', async () => {
      const seen = await Promise.all(replicas.map((r) => metric(r, /^gk_grace_view_sequence\{cluster="replicas"\}/)));
      return seen.every((s) => s === last);
    });
    const ended = ofType(await events(c), 'GraceEnded');
    expect(ended.map((e) => [e.recoveryEpoch, e.reason])).toEqual([[1, 'deadline'], [2, 'deadline'], [3, 'deadline']]);
    for (const e of ended) expect(['coordinator:rep-1', 'coordinator:rep-2']).toContain(e.actor);
    const endedBy = await Promise.all(replicas.map((r) => metric(r, /^gk_coordinator_deadline_checks_total\{cluster="replicas",outcome="ended"\}/)));
    expect(endedBy[0]! + endedBy[1]!).toBe(3);
    expect(await dump(c)).toBe(table(4, 0, 'a\t E', 'b\t E'));
  });
});

describe('grace-coordinator REST admin', () => {
  it('serves the gracectl operations with the same answers; changes need the bearer token', async () => {
    const c = 'rest';
    const coordinator = await startCoordinator('rest-1', [c]);
    const get = (path: string) => fetch(`${coordinator.base}${path}`);
    const post = (path: string, body: unknown, token: string | null = TOKEN) => fetch(`${coordinator.base}${path}`, {
      method: 'POST', body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });

    expect((await get(`/clusters/${c}`)).status).toBe(404);
    expect((await post(`/clusters/${c}/add`, { nodes: ['a', 'b'] }, null)).status).toBe(401);
    expect((await post(`/clusters/${c}/add`, { nodes: ['a', 'b'] }, 'wrong-token-xyz')).status).toBe(401);
    const added = await post(`/clusters/${c}/add`, { nodes: ['a', 'b'], config: { graceTimeMs: 60_000 } });
    expect(added.status).toBe(200);
    expect(await added.json()).toMatchObject({ ok: true, dump: table(1, 0, 'a\t E', 'b\t E'), summary: { config: { graceTimeMs: 60_000 } } });

    expect((await post(`/clusters/${c}/start`, { nodes: ['a'] })).status).toBe(200);
    const dumpText = await (await get(`/clusters/${c}/dump`)).text();
    expect(dumpText).toBe(table(2, 1, 'a\tNE', 'b\t E'));
    expect(dumpText).toBe(await dump(c));

    const notMember = await post(`/clusters/${c}/start`, { nodes: ['z'] });
    expect(notMember.status).toBe(404);
    expect(await notMember.json()).toEqual({ ok: false, code: 'NOT_MEMBER', error: 'node z is not a cluster member' });
    expect((await post(`/clusters/${c}/lift`, { nodes: [] })).status).toBe(400);
    expect((await post(`/clusters/${c}/noenforce`, { nodes: ['b'] })).status).toBe(409);
    expect((await post(`/clusters/${c}/explode`, { nodes: ['b'] })).status).toBe(404);
    expect((await post(`/clusters/${c}/lift`, { nodes: 'a' })).status).toBe(400);
    expect((await get(`/clusters/${c}/members?nodes=a,b`)).status).toBe(200);
    expect((await get(`/clusters/${c}/members?nodes=a,z`)).status).toBe(404);
    expect((await get('/clusters/elsewhere')).status).toBe(404);

    const status = (await (await get(`/clusters/${c}`)).json()) as { summary: { deadline: string; graceStartedAt: string } };
    expect(status).toMatchObject({ ok: true, summary: { epoch: 2, recoveryEpoch: 1, needing: ['a'], inGrace: true } });
    expect(Date.parse(status.summary.deadline) - Date.parse(status.summary.graceStartedAt)).toBe(60_000);

    const ended = await post(`/clusters/${c}/end`, {});
    expect(await ended.json()).toMatchObject({ ok: true, summary: { recoveryEpoch: 0, lastGraceEnd: { reason: 'admin', abandonedNodes: ['a'] } } });
    // The authenticated identity, not a claim: the body cannot name an actor.
    expect(ofType(await events(c), 'GraceEnded').map((e) => e.actor)).toEqual(['admin-token@rest']);
    expect((await post(`/clusters/${c}/join`, { nodes: ['a'], actor: 'someone-else' })).status).toBe(400);

    const health = await (await get('/health')).json();
    expect(health).toMatchObject({ status: 'ok', info: { nats: { status: 'up' }, clusters: { status: 'up', rest: { epoch: 2, recoveryEpoch: 0 } } } });
    const metrics = await (await get('/metrics')).text();
    expect(metrics).toMatch(/^gk_grace_current_epoch\{cluster="rest"\} 2$/m);
    expect(metrics).toMatch(/^gk_grace_recovery_epoch\{cluster="rest"\} 0$/m);
    expect(metrics).toMatch(/^gk_grace_members_needing_grace\{cluster="rest"\} 0$/m);
    expect(metrics).toMatch(/^gk_grace_seconds_in_grace\{cluster="rest"\} 0$/m);
    expect(metrics).toMatch(/^gk_grace_decisions_total\{cluster="rest",type="GraceEnded"\} 1$/m);
    expect(metrics).toMatch(/^gk_coordinator_requests_total\{transport="rest",op="start",result="NOT_MEMBER"\} 1$/m);
    // Failover over REST: the same move as gracectl's, behind the same token.
    expect((await post(`/clusters/${c}/move`, { identity: 'b', host: 'a' }, null)).status).toBe(401);
    const moved = await post(`/clusters/${c}/move`, { identity: 'b', host: 'a' });
    expect(await moved.json()).toMatchObject({ ok: true, dump: table(3, 2, 'a\t E', 'b\tNE'), summary: { placements: [{ node: 'b', host: 'a', generation: 1 }] } });
    const unknownHost = await post(`/clusters/${c}/move`, { identity: 'b', host: 'z' });
    expect(unknownHost.status).toBe(404);
    expect(await unknownHost.json()).toMatchObject({ ok: false, code: 'UNKNOWN_HOST' });
    const openapi = (await (await get('/docs-json')).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/clusters', '/clusters/{cluster}', '/clusters/{cluster}/dump', '/clusters/{cluster}/{op}', '/health', '/metrics']));
  });

  it('refuses a bad configuration at start-up, naming every bad variable, with status 2', async () => {
    const result = await new Promise<Run>((resolve) => {
      execFile(process.execPath, [distMain('grace-coordinator')], {
        env: { PATH: process.env.PATH, GK_ADMIN_PORT: 'eighty', GK_CLUSTERS: 'a,b.c', GK_ADMIN_TOKEN: 'short' },
      }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/GK_CLUSTERS[\s\S]*GK_ADMIN_PORT|GK_ADMIN_PORT[\s\S]*GK_CLUSTERS/);
    expect(result.stderr).toMatch(/GK_ADMIN_TOKEN/);
  });
});
