#!/usr/bin/env node
// `npm run fuzz [-- --runs N --seed S --target NAME]`: every fuzz target of test/fuzz (one at a
// time, in one process) with N inputs each (default 1,000,000). Prints a line per target with
// inputs/s, the slowest input and the heap before and after; a failing target prints its input
// and seed and the run exits 1. `npm test` runs the same targets with 2,000 inputs.
// `--guided` adds the coverage-guided mode (test/fuzz/guided.ts): jest instruments the targets'
// decoder modules with istanbul, and each target runs unguided then guided, each line with the
// branches and statements covered; `--corpus DIR` keeps the guided corpus between runs.
const { parseOptions, runJest, wholeNumber } = require('./run-jest');

const USAGE = 'Usage: npm run fuzz -- [--runs N (default 1000000)] [--seed S (default 1)] [--target cld-frames|json-lines|gk-cltrack|gk-cltrack-native|gracectl|rest-bodies|event-envelopes|heartbeats] [--guided [--corpus DIR]]\n';
const argv = process.argv.slice(2);
const guided = argv.includes('--guided');
const options = parseOptions(argv.filter((a) => a !== '--guided'), { runs: '1000000', seed: '1', target: undefined, corpus: undefined }, USAGE);
const env = { GK_FUZZ_RUNS: String(wholeNumber(options, 'runs', 1, USAGE)), GK_FUZZ_SEED: String(wholeNumber(options, 'seed', 0, USAGE)) };
if (options.target) env.GK_FUZZ_TARGET = options.target;
if (options.corpus && !guided) fail('--corpus goes with --guided');
process.stdout.write(`fuzz: ${env.GK_FUZZ_RUNS} inputs per target, seed ${env.GK_FUZZ_SEED}${options.target ? `, target ${options.target}` : ''}${guided ? ', unguided then coverage-guided' : ''}\n`);
const coverage = [];
if (guided) {
  env.GK_FUZZ_GUIDED = '1';
  if (options.corpus) env.GK_FUZZ_CORPUS_DIR = options.corpus;
  // Jest's transform instruments these (istanbul) and keeps the counters in globalThis.__coverage__.
  const decoders = ['libs/cld/src', 'libs/contracts/src', 'apps/gk-cltrack/src', 'apps/gracectl/src', 'apps/node-agent/src/transports',
    'apps/grace-coordinator/src/operations.ts', 'apps/client-registry/src/requests.ts', 'libs/service-kit/src/zod-pipe.ts'];
  coverage.push('--coverage', '--coverageProvider=babel', '--coverageReporters=text-summary', '--coverageDirectory=.tmp/fuzz-coverage',
    ...decoders.map((d) => `--collectCoverageFrom=${d.endsWith('.ts') ? d : `${d}/**/*.ts`}`), '--collectCoverageFrom=!**/*.spec.ts', '--collectCoverageFrom=!**/*.int-spec.ts');
}
runJest(['--selectProjects', 'fuzz', ...coverage, 'test/fuzz/fuzz.spec.ts'], env);

function fail(message) {
  process.stderr.write(`${message}\n${USAGE}`);
  process.exit(2);
}
