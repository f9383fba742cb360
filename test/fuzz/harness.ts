import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';

/**
 * The fuzzing harness: each target is one interface's decoder driven by a fast-check arbitrary
 * (mutations of a corpus of valid inputs mixed with raw random input, see mutators.ts), with a
 * check that throws on anything the decoder must never do (throw, answer what cannot be sent,
 * grow without bound). Runs are seeded, so a failure is reproduced by its seed and path.
 *
 * Why fast-check and not @jazzer.js/core: jazzer 4.0's prebuilt libFuzzer addon needs glibc 2.38
 * (these machines have 2.36) and Node 22; jazzer 2.1 downloads its addon from GitHub at install
 * time, which the registry mirror here does not allow. See docs/fuzzing.md.
 */
export interface FuzzTarget<T> {
  name: string;
  /** What the target decodes, for the report. */
  interface: string;
  arbitrary: fc.Arbitrary<T>;
  /** Throws (or rejects) when the decoder misbehaved on `input`. */
  check(input: T): void | Promise<void>;
  /** Loads what the first input would load lazily (modules), so that it is not counted as a hang. */
  warmUp?(): Promise<void>;
  /** Releases what warmUp opened (servers, directories). */
  tearDown?(): Promise<void>;
  /** A target that starts a process per input runs this share of the inputs asked for (default 1). */
  runShare?: number;
  /** The source paths (from the repository root) whose coverage guides this target (guided.ts). */
  covers?: readonly string[];
}

export interface FuzzStats {
  target: string;
  runs: number;
  seed: number;
  ms: number;
  inputsPerSecond: number;
  /** The slowest single input: a hang shows here (and as the test's timeout). */
  slowestInputMs: number;
  /** Heap in use after a full GC, before and after the run. */
  heapBeforeMb: number;
  heapAfterMb: number;
  failure?: string;
}

/** Any input slower than this counts as a hang. */
export const HANG_MS = 2_000;
/** Heap growth over a whole run beyond this counts as unbounded growth. */
export const MAX_HEAP_GROWTH_MB = 64;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

export async function runFuzzTarget<T>(target: FuzzTarget<T>, options: { runs: number; seed: number }): Promise<FuzzStats> {
  let slowest = 0;
  const timed = async (input: T) => {
    const t0 = performance.now();
    await target.check(input);
    const dt = performance.now() - t0;
    if (dt > slowest) slowest = dt;
    if (dt > HANG_MS) throw new Error(`one input took ${Math.round(dt)} ms (a hang)`);
  };
  await target.warmUp?.();
  const heapBeforeMb = heapMb();
  const startedAt = performance.now();
  const result = await fc.check(fc.asyncProperty(target.arbitrary, timed), {
    numRuns: options.runs,
    seed: options.seed,
    endOnFailure: true, // report the input as found: shrinking large inputs would take longer than the run
  });
  const ms = performance.now() - startedAt;
  const heapAfterMb = heapMb();
  const stats: FuzzStats = {
    target: target.name,
    runs: result.numRuns,
    seed: options.seed,
    ms: Math.round(ms),
    inputsPerSecond: Math.round(result.numRuns / (ms / 1000)),
    slowestInputMs: Math.round(slowest * 10) / 10,
    heapBeforeMb: Math.round(heapBeforeMb * 10) / 10,
    heapAfterMb: Math.round(heapAfterMb * 10) / 10,
  };
  if (result.failed) {
    const shown = fc.stringify(result.counterexample).slice(0, 2000);
    stats.failure = `${target.name} failed after ${result.numRuns} inputs (seed ${result.seed}, path ${result.counterexamplePath}):\n` +
      `input: ${shown}\nerror: ${result.errorInstance instanceof Error ? result.errorInstance.stack : String(result.errorInstance)}`;
  } else if (heapAfterMb - heapBeforeMb > MAX_HEAP_GROWTH_MB) {
    stats.failure = `${target.name}: heap grew from ${stats.heapBeforeMb} MB to ${stats.heapAfterMb} MB over ${result.numRuns} inputs`;
  }
  return stats;
}

/** A check failed: `what` must hold of `input`. */
export function expectThat(condition: boolean, what: string): void {
  if (!condition) throw new Error(`expected: ${what}`);
}
