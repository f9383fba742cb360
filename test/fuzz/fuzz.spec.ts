/**
 * Every fuzz target (targets/index.ts), one at a time. In `npm test` a short deterministic run of
 * each (GK_FUZZ_RUNS, default 2,000; seed GK_FUZZ_SEED, default 1); `npm run fuzz` runs 1,000,000
 * inputs per target and prints inputs/s, the slowest input and the heap before and after.
 * GK_FUZZ_TARGET=<name> runs one target.
 */
import { decodeDecision, encodeDecision } from '#contracts';
import { covered, resetCoverage, runGuided } from './guided';
import { runFuzzTarget } from './harness';
import { FUZZ_TARGETS } from './targets';
import { DECISION_CORPUS } from './targets/event-envelopes';

const RUNS = Number(process.env.GK_FUZZ_RUNS ?? 2_000);
const SEED = Number(process.env.GK_FUZZ_SEED ?? 1);
const only = process.env.GK_FUZZ_TARGET;
/** `npm run fuzz -- --guided`: coverage-guided (guided.ts), compared with the unguided mode on the same input count. */
const GUIDED = process.env.GK_FUZZ_GUIDED === '1';
const CORPUS_DIR = process.env.GK_FUZZ_CORPUS_DIR || undefined;
const targets = FUZZ_TARGETS.filter((t) => only === undefined || t.name === only);
/** About 1 ms per input is the slowest target's rate on a busy 2-core machine; leave ample room. */
const TIMEOUT_MS = Math.max(120_000, RUNS * 5);

it('selects at least one target', () => {
  if (targets.length === 0) throw new Error(`no fuzz target named ${JSON.stringify(only)}; known: ${FUZZ_TARGETS.map((t) => t.name).join(', ')}`);
});

it('the envelope corpus is valid (mutations start from real decisions)', () => {
  for (const m of DECISION_CORPUS) expect(decodeDecision(encodeDecision(m))).toEqual({ ok: true, value: m });
});

for (const target of targets) {
  describe(`fuzz target ${target.name}`, () => {
    it(`${RUNS} inputs (seed ${SEED}): no crash, hang or unbounded growth`, async () => {
      if (GUIDED) resetCoverage(target.covers ?? []);
      const stats = await runFuzzTarget(target, { runs: RUNS, seed: SEED });
      const reached = GUIDED ? { coverage: covered(target.covers ?? []) } : {};
      process.stderr.write(`[fuzz] ${JSON.stringify({ ...(stats.failure ? { ...stats, failure: undefined } : stats), ...reached })}\n`);
      if (stats.failure) throw new Error(stats.failure);
      expect(stats.runs).toBe(RUNS);
    }, TIMEOUT_MS);

    if (GUIDED) {
      it(`${RUNS} coverage-guided inputs (seed ${SEED}): no crash or hang`, async () => {
        resetCoverage(target.covers ?? []);
        const stats = await runGuided(target, { runs: RUNS, seed: SEED, corpusDir: CORPUS_DIR });
        process.stderr.write(`[fuzz] ${JSON.stringify({ ...stats, failure: undefined, coverage: covered(target.covers ?? []) })}\n`);
        if (stats.failure) throw new Error(stats.failure);
        expect(stats.runs).toBe(RUNS);
      }, TIMEOUT_MS * 3);
    }
  });
}
