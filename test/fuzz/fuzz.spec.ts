/**
 * Every fuzz target (targets/index.ts), one at a time. In `npm test` a short deterministic run of
 * each (GK_FUZZ_RUNS, default 2,000; seed GK_FUZZ_SEED, default 1); `npm run fuzz` runs 1,000,000
 * inputs per target and prints inputs/s, the slowest input and the heap before and after.
 * GK_FUZZ_TARGET=<name> runs one target.
 */
import { decodeDecision, decodeHeartbeat, encodeDecision, encodeHeartbeat } from '#contracts';
import { runFuzzTarget } from './harness';
import { FUZZ_TARGETS } from './targets';
import { DECISION_CORPUS } from './targets/event-envelopes';
import { HEARTBEAT_CORPUS } from './targets/heartbeats';

const RUNS = Number(process.env.GK_FUZZ_RUNS ?? 2_000);
const SEED = Number(process.env.GK_FUZZ_SEED ?? 1);
const only = process.env.GK_FUZZ_TARGET;
const targets = FUZZ_TARGETS.filter((t) => only === undefined || t.name === only);
/**
 * About 1 ms per input is the slowest in-process target's rate on a busy 2-core machine, and
 * ~50 ms that of a target starting processes (runShare); leave ample room.
 */
const timeoutMs = (target: { runShare?: number }, runs: number) => Math.max(120_000, runs * (target.runShare === undefined ? 5 : 200));

it('selects at least one target', () => {
  if (targets.length === 0) throw new Error(`no fuzz target named ${JSON.stringify(only)}; known: ${FUZZ_TARGETS.map((t) => t.name).join(', ')}`);
});

it('the envelope corpus is valid (mutations start from real decisions)', () => {
  for (const m of DECISION_CORPUS) expect(decodeDecision(encodeDecision(m))).toEqual({ ok: true, value: m });
  for (const h of HEARTBEAT_CORPUS) expect(decodeHeartbeat(encodeHeartbeat(h))).toEqual({ ok: true, value: h });
});

for (const target of targets) {
  const runs = Math.max(1, Math.round(RUNS * (target.runShare ?? 1)));
  describe(`fuzz target ${target.name}`, () => {
    afterAll(() => target.tearDown?.());
    it(`${runs} inputs (seed ${SEED}): no crash, hang or unbounded growth`, async () => {
      const stats = await runFuzzTarget(target, { runs, seed: SEED });
      process.stderr.write(`[fuzz] ${JSON.stringify(stats.failure ? { ...stats, failure: undefined } : stats)}\n`);
      if (stats.failure) throw new Error(stats.failure);
      expect(stats.runs).toBe(runs);
    }, timeoutMs(target, runs));
  });
}
