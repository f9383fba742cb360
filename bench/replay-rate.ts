/**
 * Rebuilding the PostgreSQL read model from 1,000,000 events (SPEC §5: ≥ 100,000 events/s). The
 * measurement itself is the client-registry's (bench/replay.ts); this adapts it to the report.
 */
import type { BenchContext } from './harness';
import { BenchResult, failed } from './report';
import { runReplayBench } from './replay';

const NAME = 'read-model rebuild (replay) from 1,000,000 events';

export async function runReplay(ctx: BenchContext): Promise<BenchResult[]> {
  // A rebuild that stalls must not stop the whole benchmark from reporting.
  const limitMs = ctx.quick ? 90_000 : 600_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<BenchResult[]>((resolve) => {
    timer = setTimeout(() => resolve([failed(NAME, 'events/s', '>=', 100_000, `failed: no result within ${limitMs / 1000} s`)]), limitMs);
  });
  try {
    return await Promise.race([runReplayBench(ctx), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
