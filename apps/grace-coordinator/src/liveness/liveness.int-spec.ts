/**
 * The coordinator's dead-host detection against the real NATS JetStream: heartbeats published on
 * the cluster's heartbeat subject (as agents do), coordinator replicas watching them, decisions
 * in the log. Transitions only, one report however many replicas watch, I7 on the shell's clocks,
 * the metric, and the admin operation that configures it.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { encodeHeartbeat, type GkEvent, subjects } from '#contracts';
import { executeOnce, openGraceStore, type OpenedStore } from '#cluster-store';
import type { AdminCommand } from '#domain';
import { cleanupStream, testNatsUrl, testStreamNames } from '#testing';
import { CoordinatorMetrics } from '../coordinator-metrics';
import { GraceCoordinator } from '../coordinator';
import type { Clocks } from '../deadline-timer';

jest.setTimeout(60_000);
const names = testStreamNames('coord_liveness');
const TOKEN = 'liveness-admin-token';
const DEAD_MS = 600;
let opened: OpenedStore;
let nc: NatsConnection;
const closers: Array<() => Promise<unknown> | void> = [];

beforeAll(async () => {
  nc = await connect({ servers: testNatsUrl() });
  opened = await openGraceStore({ natsUrl: testNatsUrl(), names, name: 'coordinator-liveness-test', provision: true });
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await cleanupStream(nc, names);
  await nc.close();
  await opened.close();
});

async function admin(cluster: string, command: AdminCommand): Promise<void> {
  const r = await executeOnce(opened.store, names, cluster, command, { actor: 'test' });
  if (!r.ok) throw new Error(`${command.type}: ${r.rejection.message}`);
}

async function events(cluster: string): Promise<GkEvent[]> {
  return (await opened.store.readStream(subjects.cluster(names, cluster))).messages.flatMap((m) => m.message.events);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Heartbeats for `hosts` (each serving its own identity) every 50 ms, as agents publish them; `stop(host)` silences one. */
function heartbeats(cluster: string, hosts: string[]) {
  const alive = new Set(hosts);
  let seq = 0;
  const beat = () => {
    for (const host of alive) nc.publish(subjects.heartbeats(names, cluster), encodeHeartbeat({ kind: 'gk.heartbeat', v: 1, cluster, host, identities: [host], seq: seq++, sentAt: Date.now() }));
  };
  const timer = setInterval(beat, 50);
  beat();
  closers.push(() => clearInterval(timer));
  return { stop: (host: string) => alive.delete(host), start: (host: string) => alive.add(host) };
}

async function coordinator(cluster: string, replica: string, clocks?: Clocks): Promise<GraceCoordinator> {
  const c = await GraceCoordinator.start({ nc: opened.nc, store: opened.store, names, clusters: [cluster], cluster: { replica, clocks }, adminToken: TOKEN });
  closers.push(() => c.close());
  return c;
}

describe('coordinator: dead-host detection', () => {
  it('two replicas watching: one MemberSilent when a host stops, one MemberHeard when it is back; the gauge and status show it', async () => {
    const cluster = 'two';
    await admin(cluster, { type: 'add', nodes: ['a', 'b'] });
    await admin(cluster, { type: 'configure', config: { liveness: { deadAfterMs: DEAD_MS, policy: 'wait' } } });
    const beats = heartbeats(cluster, ['a', 'b']);
    const [one] = [await coordinator(cluster, 'r1'), await coordinator(cluster, 'r2')];
    const registry = new Registry();
    new CoordinatorMetrics(registry).attach(one!);
    await sleep(3 * DEAD_MS); // heard all along: nothing to report
    expect((await events(cluster)).filter((e) => e.type === 'MemberSilent')).toEqual([]);

    beats.stop('b');
    await until('b reported silent', async () => (await events(cluster)).some((e) => e.type === 'MemberSilent'));
    await sleep(3 * DEAD_MS);
    const silent = (await events(cluster)).filter((e) => e.type === 'MemberSilent');
    expect(silent).toEqual([expect.objectContaining({ node: 'b', host: 'b', policy: 'wait', actor: expect.stringMatching(/^coordinator:r[12]$/) })]);
    const gauge = (await registry.getSingleMetric('gk_member_silent')!.get()).values;
    expect(gauge).toEqual(expect.arrayContaining([
      expect.objectContaining({ labels: { cluster, identity: 'a' }, value: 0 }),
      expect.objectContaining({ labels: { cluster, identity: 'b' }, value: 1 }),
    ]));
    const status = await one!.handle(cluster, { op: 'status' }, 'rest');
    expect(status).toMatchObject({ ok: true, summary: { silent: [{ node: 'b', host: 'b', silentForMs: expect.any(Number) }] } });

    beats.start('b');
    await until('b heard again', async () => (await events(cluster)).some((e) => e.type === 'MemberHeard'));
    await sleep(3 * DEAD_MS);
    const all = await events(cluster);
    expect(all.filter((e) => e.type === 'MemberHeard')).toEqual([expect.objectContaining({ node: 'b', host: 'b' })]);
    expect(all.filter((e) => e.type === 'MemberSilent')).toHaveLength(1);
  });

  it('I7: a wall clock stepped an hour forward reports nothing early; a stopped monotonic clock reports nothing at all', async () => {
    const cluster = 'clocks';
    await admin(cluster, { type: 'add', nodes: ['a', 'b'] });
    await admin(cluster, { type: 'configure', config: { liveness: { deadAfterMs: 1500, policy: 'wait' } } });
    heartbeats(cluster, ['a']); // b never heartbeats
    let wallStep = 0;
    const watchingSince = Date.now(); // the replica starts watching b while it starts
    await coordinator(cluster, 'stepped', { wall: () => Date.now() + wallStep, mono: () => performance.now() });
    const frozen = performance.now();
    await coordinator(cluster, 'frozen-mono', { wall: () => Date.now(), mono: () => frozen });
    wallStep = 3_600_000;
    await until('b reported silent', async () => (await events(cluster)).some((e) => e.type === 'MemberSilent'));
    const [silent] = (await events(cluster)).filter((e) => e.type === 'MemberSilent');
    // Only the replica whose monotonic clock runs reports, and only once 1.5 s passed on it.
    expect(silent).toMatchObject({ node: 'b', actor: 'coordinator:stepped' });
    expect(Date.parse(silent!.time) - wallStep - watchingSince).toBeGreaterThanOrEqual(1500 - 50);
  });

  it('configure over NATS needs the admin token; the liveness configuration merges and can be turned off', async () => {
    const cluster = 'admin';
    await admin(cluster, { type: 'add', nodes: ['a', 'b'] });
    await coordinator(cluster, 'rpc');
    const ask = async (body: object) => (await opened.nc.request(subjects.coordinatorRequests(names, cluster), JSON.stringify(body), { timeout: 5000 })).json<Record<string, unknown>>();
    const change = { op: 'configure', config: { liveness: { deadAfterMs: 5000, policy: 'move', standby: 'a' } } };
    expect(await ask(change)).toMatchObject({ ok: false, code: 'UNAUTHORIZED' });
    expect(await ask({ ...change, token: TOKEN })).toMatchObject({ ok: true, summary: { config: { liveness: { deadAfterMs: 5000, policy: 'move', standby: 'a' } } } });
    expect(await ask({ op: 'configure', config: { liveness: { policy: 'start-grace' } }, token: TOKEN })).toMatchObject({ ok: true, summary: { config: { liveness: { deadAfterMs: 5000, policy: 'start-grace', standby: 'a' } } } });
    expect(await ask({ op: 'configure', config: { liveness: { policy: 'move', standby: 'z' } }, token: TOKEN })).toMatchObject({ ok: false, code: 'NOT_MEMBER' });
    const off = await ask({ op: 'configure', config: { liveness: null }, token: TOKEN });
    expect(off).toMatchObject({ ok: true });
    expect((off.summary as { config: object }).config).not.toHaveProperty('liveness');
  });
});
