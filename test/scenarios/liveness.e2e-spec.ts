/**
 * Scenario suite, dead-host detection (SPEC §2 liveness): in-process node-agents that heartbeat,
 * the coordinator's core with its liveness watcher, real NATS JetStream. A host dies without a
 * word (its servers crash, its agent is killed: its heartbeats stop); the coordinator reports its
 * identity silent within deadAfter (plus the time to notice and append), once, and applies the
 * cluster's policy; a host heard again is recorded once. Every scenario ends with the simulator's
 * full check (I1-I7 and the placement rule).
 */
import type { GkEvent, LivenessConfig } from '#contracts';
import { sleep } from '../sim/clock';
import type { SimCluster } from '../sim/cluster';
import { takeOverMovedIdentity } from '../sim/failover';
import { clientWithLock, coldStart, scenario, type ScenarioOptions } from '../sim/scenario-kit';

const TIMEOUT = 120_000;
const DEAD_MS = 1500;
const HEARTBEAT_MS = 100;
/** Noticing (the watcher's timer) and appending, on a loaded 2-core machine; the bench measures the real figure. */
const MARGIN_MS = 1500;
const RECOVERED = ['setclientid OK', 'reclaim-open OK', 'reclaim-lock OK', 'reclaim_complete OK'];
const steps = (r: { op: string; status: string }[]) => r.map((x) => `${x.op} ${x.status}`);

function live(liveness: Omit<LivenessConfig, 'deadAfterMs'>, extra: Partial<ScenarioOptions> = {}): ScenarioOptions {
  return { agents: 'in-process', coordinator: 'in-process', heartbeatMs: HEARTBEAT_MS, config: { liveness: { deadAfterMs: DEAD_MS, ...liveness } }, ...extra };
}

async function events<T extends GkEvent['type']>(sim: SimCluster, type: T): Promise<Extract<GkEvent, { type: T }>[]> {
  return (await sim.log()).flatMap((m) => m.events).filter((e): e is Extract<GkEvent, { type: T }> => e.type === type);
}

/** Host `host` dies silently; resolves with the MemberSilent the coordinator recorded and when the host died. */
async function dieAndBeReported(sim: SimCluster, host: string) {
  await sleep(3 * HEARTBEAT_MS); // the coordinator has heard it since the cold start
  const diedAt = Date.now();
  await sim.hostDiesSilently(host);
  await sim.waitForState((s) => s.silent.get(host)?.host === host || s.placements.get(host)?.host !== undefined, `${host} reported silent`, DEAD_MS + 10_000);
  const [silent] = await events(sim, 'MemberSilent');
  expect(silent).toMatchObject({ node: host, host, deadAfterMs: DEAD_MS, actor: expect.stringMatching(/^coordinator:/) });
  expect(silent!.silentForMs).toBeGreaterThan(DEAD_MS);
  // Never before deadAfter after the last heartbeat; soon after it.
  const reportedAfter = Date.parse(silent!.time) - diedAt;
  expect(reportedAfter).toBeGreaterThan(DEAD_MS - HEARTBEAT_MS);
  expect(reportedAfter).toBeLessThanOrEqual(DEAD_MS + MARGIN_MS);
  return silent!;
}

/** Until agent `node` has seen a grace period in force (it follows the log within milliseconds). */
async function agentSeesGrace(sim: SimCluster, node: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await sim.agent(node).api().request('hello', {})).inGrace === true) return;
    await sleep(10);
  }
  throw new Error(`agent ${node} never saw the grace period`);
}

describe('dead-host detection', () => {
  it('policy wait: a silent host is reported once within deadAfter, nothing else happens; heard again once its agent is back', async () => {
    await scenario('liveness-wait', live({ policy: 'wait' }), async (sim) => {
      await coldStart(sim);
      const silent = await dieAndBeReported(sim, 'b');
      expect(silent.policy).toBe('wait');
      expect(silent.policyRefused).toBeUndefined();
      await sleep(DEAD_MS + 500);
      expect(await events(sim, 'MemberSilent')).toHaveLength(1); // transitions only
      const s = await sim.state();
      expect(s.recoveryEpoch).toBe(0);
      expect(s.placements.size).toBe(0);

      await sim.startAgent('b');
      await sim.waitForState((x) => !x.silent.has('b'), 'b heard again', 10_000);
      expect(await events(sim, 'MemberHeard')).toEqual([expect.objectContaining({ node: 'b', host: 'b' })]);
      await sleep(5 * HEARTBEAT_MS);
      expect(await events(sim, 'MemberHeard')).toHaveLength(1);
      expect(await events(sim, 'MemberSilent')).toHaveLength(1);
    });
  }, TIMEOUT);

  it('policy start-grace: grace starts at once for the silent identity, nobody gets new state, and its clients reclaim when it comes back', async () => {
    await scenario('liveness-start-grace', live({ policy: 'start-grace' }), async (sim) => {
      await coldStart(sim);
      const onA = await clientWithLock(sim, 'a', 'f', { start: 0, end: 10 });
      const onB = await clientWithLock(sim, 'b', 'g', { start: 0, end: 10 });
      await dieAndBeReported(sim, 'b');
      const s = await sim.state();
      expect(s.recoveryEpoch).toBe(2);
      expect(s.members.get('b')).toMatchObject({ need: true, enforcing: true });
      expect((await sim.log()).flatMap((m) => m.events.map((e) => e.type)).slice(-2)).toEqual(['MemberSilent', 'GraceStarted']);

      // Every member enforces: a's clients keep what they hold and get no new state.
      await agentSeesGrace(sim, 'a');
      expect(await onA.client.renew()).toBe('OK');
      expect(await onA.client.open('h')).toBe('NFS4ERR_GRACE');

      // b restarts in place: it joins the grace period its death started, and its clients reclaim.
      await sim.startAgent('b');
      await sim.startServers(['b']);
      expect(steps(await onB.client.recover())).toEqual(RECOVERED);
      const end = await sim.waitForGraceEnd();
      expect(end.lastGraceEnd).toMatchObject({ recoveryEpoch: 2, reason: 'all-reclaimed', abandonedNodes: [] });
      await sim.waitForState((x) => !x.silent.has('b'), 'b heard again', 10_000);
      expect((await onA.client.lock('f', { start: 20, end: 30 }, 'write')).status).toBe('OK');
    });
  }, TIMEOUT);

  it('policy move: the silent identity moves to the standby; its clients reclaim there and through no other host', async () => {
    await scenario('liveness-move', live({ policy: 'move', standby: 'a' }, { agentsServeAll: true }), async (sim) => {
      await coldStart(sim);
      const onB1 = await clientWithLock(sim, 'b', 'f', { start: 0, end: 10 });
      const onB2 = await clientWithLock(sim, 'b', 'g', { start: 0, end: 10 });
      const silent = await dieAndBeReported(sim, 'b');
      expect(silent.policy).toBe('move');
      const s = await sim.state();
      expect(s.placements.get('b')).toEqual({ host: 'a', generation: 1 });
      expect(s.silent.has('b')).toBe(false); // the standby is watched afresh
      expect((await sim.log()).flatMap((m) => m.events.map((e) => e.type)).slice(-3)).toEqual(['MemberSilent', 'IdentityMoved', 'GraceStarted']);

      const { server } = await takeOverMovedIdentity(sim, 'b', 'a');
      expect(server.reclaimableTotal).toBe(2);
      expect(steps(await onB1.client.recover())).toEqual(RECOVERED);
      expect(steps(await onB2.client.recover())).toEqual(RECOVERED);
      const end = await sim.waitForGraceEnd();
      expect(end.lastGraceEnd).toMatchObject({ recoveryEpoch: 2, reason: 'all-reclaimed', abandonedNodes: [] });
      const accepted = await events(sim, 'ReclaimAccepted');
      const forB = accepted.filter((e) => e.node === 'b');
      expect(forB.length).toBeGreaterThan(0);
      expect(forB.every((e) => e.host === 'a')).toBe(true);
      // a serves b now and heartbeats for it: b is not reported silent again.
      await sleep(DEAD_MS + 500);
      expect(await events(sim, 'MemberSilent')).toHaveLength(1);
    });
  }, TIMEOUT);

  it('policy move with the standby silent too (a double failure): reported, refused clearly, nothing moves', async () => {
    await scenario('liveness-double', live({ policy: 'move', standby: 'a' }, { agentsServeAll: true }), async (sim) => {
      await coldStart(sim);
      await dieAndBeReported(sim, 'a');
      await sim.hostDiesSilently('b');
      await sim.waitForState((x) => x.silent.has('b'), 'b reported silent', DEAD_MS + 10_000);
      const reports = await events(sim, 'MemberSilent');
      expect(reports.map((e) => [e.node, e.policyRefused])).toEqual([
        ['a', 'standby host a is the silent host itself'],
        ['b', expect.stringMatching(/standby host a is silent too .*double failure/)],
      ]);
      expect((await sim.state()).placements.size).toBe(0);
    });
  }, TIMEOUT);
});
