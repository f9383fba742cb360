/**
 * Every fuzz target (targets/index.ts), one at a time. In `npm test` a short deterministic run of
 * each (GK_FUZZ_RUNS, default 2,000; seed GK_FUZZ_SEED, default 1); `npm run fuzz` runs 1,000,000
 * inputs per target and prints inputs/s, the slowest input and the heap before and after.
 * GK_FUZZ_TARGET=<name> runs one target.
 */
import { decodeDecision, decodeHeartbeat, encodeDecision, encodeHeartbeat } from '#contracts';
import { covered, resetCoverage, runGuided } from './guided';
import { runFuzzTarget } from './harness';
import { FUZZ_TARGETS } from './targets';
import { DECISION_CORPUS } from './targets/event-envelopes';
import { HEARTBEAT_CORPUS } from './targets/heartbeats';

const RUNS = Number(process.env.GK_FUZZ_RUNS ?? 2_000);
const SEED = Number(process.env.GK_FUZZ_SEED ?? 1);
const only = process.env.GK_FUZZ_TARGET;
/** `npm run fuzz -- --guided`: coverage-guided (guided.ts), compared with the unguided mode on the same input count. */
const GUIDED = process.env.GK_FUZZ_GUIDED === '1';
const CORPUS_DIR = process.env.GK_FUZZ_CORPUS_DIR || undefined;
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
      if (GUIDED) resetCoverage(target.covers ?? []);
      const stats = await runFuzzTarget(target, { runs, seed: SEED });
      const reached = GUIDED ? { coverage: covered(target.covers ?? []) } : {};
      process.stderr.write(`[fuzz] ${JSON.stringify({ ...(stats.failure ? { ...stats, failure: undefined } : stats), ...reached })}\n`);
      if (stats.failure) throw new Error(stats.failure);
      expect(stats.runs).toBe(runs);
    }, timeoutMs(target, runs));

    if (GUIDED) {
      it(`${runs} coverage-guided inputs (seed ${SEED}): no crash or hang`, async () => {
        resetCoverage(target.covers ?? []);
        const stats = await runGuided(target, { runs, seed: SEED, corpusDir: CORPUS_DIR });
        process.stderr.write(`[fuzz] ${JSON.stringify({ ...stats, failure: undefined, coverage: covered(target.covers ?? []) })}\n`);
        if (stats.failure) throw new Error(stats.failure);
        expect(stats.runs).toBe(runs);
      }, timeoutMs(target, runs) * 3);
    }
  });
}
