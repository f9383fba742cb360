#!/usr/bin/env node
// `npm run soak [-- --schedules N --base-seed S --parallel P]`: the randomized fault schedules of
// test/scenarios/randomized.e2e-spec.ts, many of them (needs the test NATS, as every integration
// test). Prints the seed range first, progress as it goes, and for each failing schedule its seed,
// violations and fault schedule; exits 1 if any failed. `--seed X` re-runs one schedule.
const { parseOptions, runJest, wholeNumber } = require('./run-jest');

const USAGE = `Usage: npm run soak -- [--schedules N (default 10000)] [--base-seed S (default: from the clock)] [--parallel P (default 8)] [--seed X]\n`;
const options = parseOptions(process.argv.slice(2), { schedules: '10000', 'base-seed': undefined, parallel: '8', seed: undefined }, USAGE);
const schedules = wholeNumber(options, 'schedules', 1, USAGE);
const parallel = wholeNumber(options, 'parallel', 1, USAGE);
const seed = wholeNumber(options, 'seed', 0, USAGE);
const baseSeed = wholeNumber(options, 'base-seed', 0, USAGE) ?? Date.now() % 1_000_000_000;

const env = seed !== undefined
  ? { GK_SIM_SEED: String(seed) }
  : { GK_SIM_SCHEDULES: String(schedules), GK_SIM_BASE_SEED: String(baseSeed), GK_SIM_CONCURRENCY: String(parallel) };
process.stdout.write(seed !== undefined
  ? `soak: seed ${seed}\n`
  : `soak: ${schedules} schedules, seeds ${baseSeed}..${baseSeed + schedules - 1}, ${parallel} at a time\n`);
runJest(['test/scenarios/randomized.e2e-spec.ts', '-t', 'random fault schedules'], { ...env, GK_SIM_PROGRESS: '1' });
