/**
 * Randomized fault schedules (test/sim/random-schedule.ts), checked after each run. The agents are
 * the node-agent's own core (AgentCore, the code behind its sockets) in this process and the
 * coordinator's core likewise, so hundreds of schedules fit in a CI run; test/scenarios run the
 * same code as processes. One stream for all schedules, one cluster per schedule.
 *
 * GK_SIM_SEED=<n> re-runs one schedule; GK_SIM_SCHEDULES and GK_SIM_BASE_SEED choose how many and from where.
 */
import { connect, NatsConnection } from '@nats-io/transport-node';
import { cleanupStream, testNatsUrl, testStreamNames } from '#testing';
import { describeFailure, RandomRunResult, runRandomSchedule } from '../sim/random-schedule';

const names = testStreamNames('random');
let nc: NatsConnection;
beforeAll(async () => {
  nc = await connect({ servers: testNatsUrl() });
});
afterAll(async () => {
  await cleanupStream(nc, names);
  await nc.close();
});

const single = process.env.GK_SIM_SEED ? Number(process.env.GK_SIM_SEED) : undefined;
const count = single !== undefined ? 1 : Number(process.env.GK_SIM_SCHEDULES ?? 200);
const baseSeed = single ?? Number(process.env.GK_SIM_BASE_SEED ?? (Date.now() % 1_000_000_000));
const CONCURRENCY = Number(process.env.GK_SIM_CONCURRENCY ?? 8);

it(`${count} random fault schedules (seeds ${baseSeed}..${baseSeed + count - 1}) keep every invariant`, async () => {
  const results: RandomRunResult[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const seed = baseSeed + next++;
      results.push(await runRandomSchedule({ seed, natsUrl: testNatsUrl(), names, agents: 'in-process' }));
    }
  };
  const startedAt = Date.now();
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
}, 600_000);
