/**
 * Randomized fault schedules (test/sim/random-schedule.ts), checked after each run. The agents are
 * the node-agent's own core (AgentCore, the code behind its sockets) in this process and the
 * coordinator's core likewise, so hundreds of schedules fit in a CI run; test/scenarios run the
 * same code as processes. One stream for all schedules, one cluster per schedule.
 *
 * GK_SIM_SEED=<n> re-runs one schedule; GK_SIM_SCHEDULES and GK_SIM_BASE_SEED choose how many and from where.
 */
import { testNatsUrl, TestStream } from '#testing';
import { sleep } from '../sim/clock';
import { SimCluster } from '../sim/cluster';
import { describeFailure, RandomRunResult, runRandomSchedule } from '../sim/random-schedule';

const stream = new TestStream('random');
const { names } = stream;
beforeAll(() => stream.open());
afterAll(() => stream.close());

const single = process.env.GK_SIM_SEED ? Number(process.env.GK_SIM_SEED) : undefined;
const count = single !== undefined ? 1 : Number(process.env.GK_SIM_SCHEDULES ?? 200);
const baseSeed = single ?? Number(process.env.GK_SIM_BASE_SEED ?? (Date.now() % 1_000_000_000));
const CONCURRENCY = Number(process.env.GK_SIM_CONCURRENCY ?? 8);
/** Set by `npm run soak`: a line every 100 schedules, and each failure as soon as it is found. */
const PROGRESS = process.env.GK_SIM_PROGRESS === '1';
/** Long soaks are bounded by their size, not by the CI's ten minutes. */
const TIMEOUT_MS = Math.max(600_000, Math.ceil(count / CONCURRENCY) * 30_000);

it(`${count} random fault schedules (seeds ${baseSeed}..${baseSeed + count - 1}) keep every invariant`, async () => {
  const results: RandomRunResult[] = [];
  const startedAt = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const seed = baseSeed + next++;
      const result = await runRandomSchedule({ seed, natsUrl: testNatsUrl(), names, agents: 'in-process' });
      results.push(result);
      if (!PROGRESS) continue;
      if (result.violations.length) process.stderr.write(`[randomized] FAILED ${describeFailure(result)}\n`);
      if (results.length % 100 === 0 || results.length === count) {
        const failedSoFar = results.filter((r) => r.violations.length > 0).length;
        process.stderr.write(`[randomized] ${results.length}/${count} schedules in ${Date.now() - startedAt} ms, ${failedSoFar} failed\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
  const failed = results.filter((r) => r.violations.length > 0);
  const ends = results.flatMap((r) => r.stats.graceEnds.map((e) => e.split(':')[1]));
  const byReason = Object.fromEntries([...new Set(ends)].map((k) => [k, ends.filter((e) => e === k).length]));
  process.stderr.write(
    `[randomized] ${results.length} schedules in ${Date.now() - startedAt} ms (${CONCURRENCY} at a time), ` +
      `${results.reduce((s, r) => s + r.stats.requests, 0)} client steps, grace ends ${JSON.stringify(byReason)}, ` +
      `${results.filter((r) => r.stats.moves > 0).length} with moves, ${failed.length} failed` +
      (failed.length ? `; failing seeds: ${failed.map((f) => f.seed).join(', ')}` : '') + '\n',
  );
  if (failed.length) throw new Error(failed.slice(0, 3).map(describeFailure).join('\n\n'));
  expect(results).toHaveLength(count);
  // Failover and failback are exercised in at least a quarter of the schedules (issue 11).
  if (count >= 20) expect(results.filter((r) => r.stats.moves > 0).length).toBeGreaterThanOrEqual(count / 4);
}, TIMEOUT_MS);

/**
 * Failing seeds found by soaks (`npm run soak`), each kept by name: first the seed itself (its
 * interleaving depends on timing, so it may pass even without its fix), then the schedule's
 * essence, scripted so that it fails deterministically without the fix.
 */
describe('named regressions', () => {
  it.each([777610, 900541])('seed %i keeps every invariant', async (seed) => {
    const r = await runRandomSchedule({ seed, natsUrl: testNatsUrl(), names, agents: 'in-process' });
    if (r.violations.length) throw new Error(describeFailure(r));
  }, 120_000);

  // Seed 900541 (10,000-schedule soak from 900000): a move of b queued behind another append was
  // refused because the operator removed b meanwhile; the simulator put b's old server object back
  // without the removal, and settle removed b a second time (1 run in 2 alone; fixed in test/sim/failover.ts).
  // Seed 777610 (2,000-schedule soak from 777000, 8 at a time) was stuck "waiting for grace to
  // end" after crash b / start b / crash b / remove b: b's grace_start, still on its way to b's
  // agent when the operator removed b, was decided afterwards and (grace_start adds a missing
  // member) put b back with NEED, and b, gone for good, never lifted it. The operator removes a
  // fenced node: the simulator's removeNode stops b's agent first, so nothing b sent is decided
  // after the removal. Here b's grace_start is held until b has been removed.
  it('seed 777610 scripted: a grace_start in flight when its node is removed does not bring the node back', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding = false;
    const sim = await SimCluster.create({
      natsUrl: testNatsUrl(), names, cluster: 'r777610-scripted', nodes: ['a', 'b'], agents: 'in-process',
      config: { graceTimeMs: 1000, leaseTimeMs: 300, exitPolicy: 'all-clear', deadlinePolicy: 'wait' },
      localGraceMs: 400, agentRequestTimeoutMs: 1000,
      wrapAgent: (node, api) => ({
        ...api,
        request: async (op, fields, options) => {
          if (node === 'b' && op === 'grace_start' && holding) await held;
          return api.request(op, fields, options);
        },
      }),
    });
    try {
      await sim.startServers();
      await sim.waitForGraceEnd(10_000);
      sim.crashServer('b');
      holding = true;
      const start = sim.startServers(['b']);
      await sleep(50);
      sim.crashServer('b');
      await sim.removeNode('b');
      release();
      await start;
      await sleep(500); // time for the late grace_start to be decided, if it is
      const state = await sim.waitForGraceEnd(5_000);
      expect([...state.members.keys()]).toEqual(['a']);
      expect(await sim.check()).toEqual([]);
    } finally {
      await sim.close();
    }
  }, 60_000);
});
