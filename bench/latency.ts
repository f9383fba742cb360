/**
 * create/check/remove through a node-agent, each acknowledged only once durable (SPEC §5: p50 ≤
 * 0.3 ms, p99 ≤ 2 ms, ≥ 20,000 creates/s with concurrent callers), next to nfs-utils'
 * nfsdcltrack measured in the same run (bench/nfsdcltrack-reference.ts).
 *
 * Latency: one caller, one request at a time on the agent's JSON socket (what one nfsd upcall
 * sees). Throughput: many callers with requests in flight on several connections.
 */
import { AgentPool, bar, BenchContext, benchClient, forEachConcurrent, Progress, withBenchSystem } from './harness';
import { CltrackReference, measureNfsdcltrack } from './nfsdcltrack-reference';
import { BenchResult, failed, percentile, result } from './report';

const IN_FLIGHT = 256;

export async function runAgentLatency(ctx: BenchContext): Promise<BenchResult[]> {
  const sequential = ctx.quick ? 1000 : 5000;
  const concurrent = ctx.quick ? 10_000 : 100_000;
  const progress = new Progress('latency');
  progress.update('measuring nfsdcltrack (reference)…', true);
  let reference: CltrackReference;
  try {
    reference = await measureNfsdcltrack(ctx.quick ? 100 : 300);
  } catch (err) {
    reference = { skipped: errorText(err), runs: 0 };
  }
  const refSource = reference.skipped ? undefined : `measured: nfsdcltrack, ${reference.runs} runs`;
  progress.done(reference.skipped ? `nfsdcltrack reference not measured: ${reference.skipped}` : `nfsdcltrack create p50 ${reference.create!.p50.toFixed(2)} ms p99 ${reference.create!.p99.toFixed(2)} ms; check p50 ${reference.check!.p50.toFixed(2)} ms p99 ${reference.check!.p99.toFixed(2)} ms`);
  const ref = (which: 'create' | 'check', p: 'p50' | 'p99') => (reference[which] ? { reference: reference[which]![p], referenceSource: refSource } : {});
  const names = {
    createP50: 'create latency p50 (one caller)',
    createP99: 'create latency p99 (one caller)',
    checkP50: 'check latency p50 (one caller)',
    checkP99: 'check latency p99 (one caller)',
    removeP50: 'remove latency p50 (one caller)',
    removeP99: 'remove latency p99 (one caller)',
    rate: `creates/s with concurrent callers (${IN_FLIGHT} in flight)`,
  };
  try {
    return await withBenchSystem(ctx, 'latency', { nodes: ['a'] }, async (b) => {
      const socket = b.system.agent('a').jsonSocket!;
      const one = await AgentPool.open('a', socket, 1);
      const timed = async (op: string, count: number, client: (i: number) => string) => {
        const times: number[] = [];
        for (let i = 0; i < count; i++) {
          const t = performance.now();
          const r = await one.request(op, { client: client(i), hasSession: true });
          times.push(performance.now() - t);
          if (r.status !== 'OK') throw new Error(`${op}: ${r.status} ${r.error ?? ''}`);
          if (i % 200 === 0) progress.update(`${op} ${bar(i, count)}`);
        }
        return times.sort((x, y) => x - y);
      };
      // Warm-up: connections, JIT, the first append creating the subject.
      await timed('create', 200, (i) => benchClient('warm', i));
      const creates = await timed('create', sequential, (i) => benchClient('lat', i));
      const checks = await timed('check', sequential, (i) => benchClient('lat', i));
      const removes = await timed('remove', sequential, (i) => benchClient('lat', i));
      one.close();

      const pool = await AgentPool.open('a', socket, 8);
      let done = 0;
      const t0 = performance.now();
      await forEachConcurrent(concurrent, IN_FLIGHT, async (i) => {
        const r = await pool.request('create', { client: benchClient('rate', i), hasSession: true });
        if (r.status !== 'OK') throw new Error(`create: ${r.status} ${r.error ?? ''}`);
        if (++done % 1000 === 0) progress.update(`concurrent creates ${bar(done, concurrent)}`);
      });
      const rate = concurrent / ((performance.now() - t0) / 1000);
      pool.close();
      const p = (xs: number[], q: number) => percentile(xs, q);
      progress.done(`create p50 ${p(creates, 50).toFixed(3)} ms p99 ${p(creates, 99).toFixed(3)} ms; check p50 ${p(checks, 50).toFixed(3)} ms; ${Math.round(rate).toLocaleString('en-US')} creates/s`);
      const n = `${sequential.toLocaleString('en-US')} sequential requests`;
      return [
        result(names.createP50, p(creates, 50), 'ms', '<=', 0.3, { ...ref('create', 'p50'), note: n }),
        result(names.createP99, p(creates, 99), 'ms', '<=', 2, { ...ref('create', 'p99'), note: n }),
        result(names.checkP50, p(checks, 50), 'ms', '<=', 0.3, { ...ref('check', 'p50'), note: n }),
        result(names.checkP99, p(checks, 99), 'ms', '<=', 2, { ...ref('check', 'p99'), note: n }),
        result(names.removeP50, p(removes, 50), 'ms', '<=', 0.3, { note: n }),
        result(names.removeP99, p(removes, 99), 'ms', '<=', 2, { note: n }),
        result(names.rate, rate, 'creates/s', '>=', 20_000, { note: `${concurrent.toLocaleString('en-US')} creates on 8 connections` }),
      ];
    });
  } catch (err) {
    ctx.log(`  latency failed: ${(err as Error).stack ?? String(err)}`);
    const why = `failed: ${errorText(err)}`;
    return [
      failed(names.createP50, 'ms', '<=', 0.3, why, ref('create', 'p50')),
      failed(names.createP99, 'ms', '<=', 2, why, ref('create', 'p99')),
      failed(names.checkP50, 'ms', '<=', 0.3, why, ref('check', 'p50')),
      failed(names.checkP99, 'ms', '<=', 2, why, ref('check', 'p99')),
      failed(names.removeP50, 'ms', '<=', 0.3, why),
      failed(names.removeP99, 'ms', '<=', 2, why),
      failed(names.rate, 'creates/s', '>=', 20_000, why),
    ];
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
