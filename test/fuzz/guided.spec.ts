import fc from 'fast-check';
import { covered, resetCoverage, runGuided } from './guided';
import type { FuzzTarget } from './harness';

/**
 * The guidance itself, on a toy decoder whose counters this test keeps in the istanbul shape: a
 * "magic" prefix three bytes deep that random inputs practically never hit (1 in 16 million) and
 * that the guided mode reaches by keeping each input that gets one byte further.
 */
const FILE = '/repo/toy/magic.ts';
const counters = () => (globalThis as { __coverage__?: any }).__coverage__[FILE];

const magic: FuzzTarget<Uint8Array> = {
  name: 'toy-magic',
  interface: 'a three-byte magic prefix',
  covers: ['toy/'],
  arbitrary: fc.uint8Array({ minLength: 3, maxLength: 8 }),
  check(input) {
    const c = counters();
    c.s['0']++;
    if (input[0] !== 0x47) return void c.b['0'][1]++;
    c.b['0'][0]++;
    if (input[1] !== 0x4b) return void c.b['1'][1]++;
    c.b['1'][0]++;
    if (input[2] !== 0x21) return void c.b['2'][1]++;
    c.b['2'][0]++;
  },
};

beforeEach(() => {
  (globalThis as { __coverage__?: unknown }).__coverage__ = { [FILE]: { s: { 0: 0 }, f: {}, b: { 0: [0, 0], 1: [0, 0], 2: [0, 0] } } };
});
afterEach(() => {
  delete (globalThis as { __coverage__?: unknown }).__coverage__;
});

it('the guided mode reaches the whole magic prefix that the same number of unguided inputs does not', async () => {
  const runs = 30_000;
  for (const input of fc.sample(magic.arbitrary, { numRuns: runs, seed: 7 })) magic.check(input);
  expect(counters().b['2'][0]).toBe(0);

  resetCoverage(magic.covers!);
  const stats = await runGuided(magic, { runs, seed: 7 });
  expect(stats.failure).toBeUndefined();
  expect(stats.runs).toBe(runs);
  expect(counters().b['2'][0]).toBeGreaterThan(0);
  expect(covered(magic.covers!)).toEqual({ branches: 6, branchesTotal: 6, statements: 1, statementsTotal: 1 });
  // Kept: the inputs that reached something new (each further byte, and each miss branch).
  expect(stats.corpus).toBeGreaterThanOrEqual(3);
  expect(stats.corpus).toBeLessThan(20);
});

it('reports a crash with its input', async () => {
  const crashing: FuzzTarget<Uint8Array> = { ...magic, check: (input) => { magic.check(input); if (counters().b['1'][0] > 0) throw new Error('boom'); } };
  const stats = await runGuided(crashing, { runs: 30_000, seed: 7 });
  expect(stats.failure).toMatch(/toy-magic \(guided\) failed after \d+ inputs \(seed 7\):\ninput: Uint8Array.from\(\[71,75/);
  expect(stats.failure).toMatch(/error: Error: boom/);
});
