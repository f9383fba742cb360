/**
 * How cost grows (issue 13, item 5): the cluster-wide restart storm (bench/storm.ts) at 10k, 30k,
 * 100k and 300k clients and the read-model rebuild (bench/replay.ts) from 100k, 1M and 3M events,
 * each printed as time per client / per event beside the smallest size's. Flat is the aim: a
 * size whose unit cost is more than FLAT × the smallest size's is reported as not met (the cost
 * grows faster than the work). Not in the default `npm run bench` (it takes far longer than the
 * rest together): `npm run bench:growth`. Sizes may be given as GK_GROWTH_STORM=1000,3000 and
 * GK_GROWTH_REPLAY=10000,30000 (to check it quickly); --quick uses small sizes too.
 */
import type { BenchContext } from './harness';
import { replayBench } from './replay';
import { BenchResult, failed, result } from './report';
import { runStorm } from './storm';

/** Unit cost at a size may be at most this many times the smallest size's. */
const FLAT = 1.5;

interface Measured {
  size: number;
  /** Microseconds per client or per event; null when the run failed (why in `note`). */
  perUnitUs: number | null;
  note: string;
}

function sizes(variable: string, full: number[], quick: number[], ctx: BenchContext): number[] {
  const given = process.env[variable]?.split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);
  return given?.length ? given : ctx.quick ? quick : full;
}

async function stormAt(ctx: BenchContext, clients: number): Promise<Measured> {
  const [storm] = await runStorm(ctx, clients);
  if (!storm || storm.value === null) return { size: clients, perUnitUs: null, note: storm?.note ?? 'no result' };
  return { size: clients, perUnitUs: (storm.value * 1e6) / clients, note: `${storm.value} s in all${storm.met ? '' : ` (${storm.note ?? ''})`}` };
}

async function replayAt(ctx: BenchContext, events: number): Promise<Measured> {
  try {
    const f = await replayBench(ctx, { events, perMessage: 20, clusters: 4 });
    return { size: events, perUnitUs: 1e6 / f.replay.eventsPerSecond, note: `${Math.round(f.replay.eventsPerSecond).toLocaleString('en-US')} events/s, ${(f.replay.elapsedMs / 1000).toFixed(1)} s in all` };
  } catch (err) {
    return { size: events, perUnitUs: null, note: `failed: ${(err as Error).message}` };
  }
}

/** One row per size: its unit cost against FLAT × the smallest size's; and the table in the log. */
function growthRows(ctx: BenchContext, what: string, unit: string, measured: Measured[]): BenchResult[] {
  const base = measured[0]?.perUnitUs ?? null;
  ctx.log(`  ${what}: ${'size'.padStart(10)} ${`µs/${unit}`.padStart(12)} ${'× smallest'.padStart(11)}`);
  for (const m of measured) {
    const ratio = m.perUnitUs !== null && base !== null ? (m.perUnitUs / base).toFixed(2) : '—';
    ctx.log(`  ${what}: ${m.size.toLocaleString('en-US').padStart(10)} ${(m.perUnitUs?.toFixed(2) ?? '—').padStart(12)} ${ratio.padStart(11)}`);
  }
  return measured.map((m) => {
    const name = `growth: ${what}, ${m.size.toLocaleString('en-US')} ${unit}s — time per ${unit}`;
    if (m.perUnitUs === null || base === null) return failed(name, `µs/${unit}`, '<=', base === null ? 0 : base * FLAT, m.perUnitUs === null ? m.note : 'the smallest size failed');
    return result(name, m.perUnitUs, `µs/${unit}`, '<=', base * FLAT, { note: `${m.note}; ${(m.perUnitUs / base).toFixed(2)} × the smallest size's (flat: ≤ ${FLAT} ×)` });
  });
}

export async function runGrowth(ctx: BenchContext): Promise<BenchResult[]> {
  const storm: Measured[] = [];
  for (const clients of sizes('GK_GROWTH_STORM', [10_000, 30_000, 100_000, 300_000], [1_000, 3_000], ctx)) {
    ctx.log(`  growth: storm with ${clients.toLocaleString('en-US')} clients`);
    storm.push(await stormAt(ctx, clients));
  }
  const replay: Measured[] = [];
  for (const events of sizes('GK_GROWTH_REPLAY', [100_000, 1_000_000, 3_000_000], [10_000, 30_000], ctx)) {
    ctx.log(`  growth: replay of ${events.toLocaleString('en-US')} events`);
    replay.push(await replayAt(ctx, events));
  }
  return [...growthRows(ctx, 'cluster-wide restart', 'client', storm), ...growthRows(ctx, 'read-model rebuild', 'event', replay)];
}
