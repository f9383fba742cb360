#!/usr/bin/env node
// `npm run fuzz [-- --runs N --seed S --target NAME]`: every fuzz target of test/fuzz (one at a
// time, in one process) with N inputs each (default 1,000,000). Prints a line per target with
// inputs/s, the slowest input and the heap before and after; a failing target prints its input
// and seed and the run exits 1. `npm test` runs the same targets with 2,000 inputs.
const { parseOptions, runJest, wholeNumber } = require('./run-jest');

const USAGE = 'Usage: npm run fuzz -- [--runs N (default 1000000)] [--seed S (default 1)] [--target cld-frames|json-lines|gk-cltrack|gk-cltrack-native|gracectl|rest-bodies|event-envelopes]\n';
const options = parseOptions(process.argv.slice(2), { runs: '1000000', seed: '1', target: undefined }, USAGE);
const env = { GK_FUZZ_RUNS: String(wholeNumber(options, 'runs', 1, USAGE)), GK_FUZZ_SEED: String(wholeNumber(options, 'seed', 0, USAGE)) };
if (options.target) env.GK_FUZZ_TARGET = options.target;
process.stdout.write(`fuzz: ${env.GK_FUZZ_RUNS} inputs per target, seed ${env.GK_FUZZ_SEED}${options.target ? `, target ${options.target}` : ''}\n`);
runJest(['--selectProjects', 'fuzz', 'test/fuzz/fuzz.spec.ts'], env);
