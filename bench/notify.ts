/**
 * Last NEED lifted → every node-agent knows grace ended (SPEC §5: p99 ≤ 50 ms; ganesha's
 * rados_cluster polls the grace database every 5 s, so it knows up to 5 s later).
 *
 * Each cycle: every NFS server restarts (`grace_start` on all 4 agents), then the last NEED is
 * lifted (one `lift` of all nodes, appended by this process, which ends grace with
 * `all-reclaimed`). An agent "knows" when it writes `Y` to its v4_end_grace file, which it does as
 * soon as its live view applies the GraceEnded event; the write is seen with inotify (fs.watch).
 * Latency = that moment − the GraceEnded message's append time (JetStream's timestamp, same
 * machine clock, truncated to the millisecond: figures are at most 1 ms high).
 */
import { FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { subjects } from '#contracts';
import { executeOnce } from '#cluster-store';
import { AgentPool, bar, BenchContext, CLUSTER, Progress, withBenchSystem } from './harness';
import { BenchResult, failed, percentile, result } from './report';

const NODES = ['a', 'b', 'c', 'd'];
/** First cycles not counted: connections, consumers and JIT warming up. */
const WARM_UP = 3;
const REFERENCE = { reference: 5000, referenceSource: 'documented: ganesha rados_cluster polls every 5 s' };

export async function runNotify(ctx: BenchContext): Promise<BenchResult[]> {
  const cycles = WARM_UP + (ctx.quick ? 30 : 300);
  const name = `last NEED lifted → all ${NODES.length} node-agents know grace ended, p99`;
  try {
    return await withBenchSystem(ctx, 'notify', { nodes: NODES }, async (b) => {
      const pools = await Promise.all(b.system.agents.map((a) => AgentPool.open(a.node!, a.jsonSocket!, 1)));
      const wallNow = () => performance.timeOrigin + performance.now();

      let current: { appendedAt?: number; seen: Map<string, number>; resolve?: () => void } | undefined;
      const check = () => {
        if (current?.appendedAt !== undefined && current.seen.size === NODES.length) current.resolve?.();
      };
      const watchers: FSWatcher[] = b.system.agents.map((a) => {
        const file = basename(a.endGraceFile!);
        return watch(dirname(a.endGraceFile!), (_event, changed) => {
          if (changed !== file || !current || current.seen.has(a.node!)) return;
          current.seen.set(a.node!, wallNow());
          check();
        });
      });
      const subject = subjects.cluster(b.names, CLUSTER);
      const sub = await b.opened.store.subscribe(subject, { fromSequence: (await b.opened.store.currentVersion(subject)) + 1 }, (m) => {
        if (current && m.message.events.some((e) => e.type === 'GraceEnded')) {
          current.appendedAt = m.time.getTime();
          check();
        }
      });

      const latencies: number[] = [];
      const progress = new Progress('notify');
      try {
        for (let cycle = 0; cycle < cycles; cycle++) {
          const replies = await Promise.all(pools.map((p) => p.request('grace_start')));
          const bad = replies.find((r) => r.status !== 'OK');
          if (bad) throw new Error(`grace_start: ${bad.status} ${bad.error ?? ''}`);
          const state: NonNullable<typeof current> = { seen: new Map() };
          const allKnow = new Promise<void>((resolve, reject) => {
            state.resolve = resolve;
            setTimeout(() => reject(new Error(`cycle ${cycle}: after 10 s only ${[...state.seen.keys()].join(',') || 'no agent'} wrote v4_end_grace`)), 10_000).unref();
          });
          allKnow.catch(() => undefined); // awaited below; a failed lift must not leave it unhandled
          current = state;
          const lifted = await executeOnce(b.opened.store, b.names, CLUSTER, { type: 'lift', nodes: NODES }, { actor: 'bench-notify' });
          if (!lifted.ok) throw new Error(`lift: ${lifted.rejection.message}`);
          if (!lifted.events.some((e) => e.type === 'GraceEnded')) throw new Error('lift did not end grace');
          await allKnow;
          if (cycle >= WARM_UP) for (const t of state.seen.values()) latencies.push(Math.max(0, t - state.appendedAt!));
          current = undefined;
          progress.update(`${bar(cycle + 1, cycles)} cycle ${cycle + 1}/${cycles}`);
        }
      } finally {
        for (const w of watchers) w.close();
        await sub.stop();
        for (const p of pools) p.close();
      }
      latencies.sort((x, y) => x - y);
      const p99 = percentile(latencies, 99);
      progress.done(`${cycles - WARM_UP} grace periods ended (after ${WARM_UP} warm-up): p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${latencies[latencies.length - 1]!.toFixed(1)} ms`);
      const note = `${cycles - WARM_UP} cycles × ${NODES.length} agents (after ${WARM_UP} warm-up cycles); GraceEnded append → agent writes v4_end_grace; p50 ${percentile(latencies, 50).toFixed(1)} ms, max ${latencies[latencies.length - 1]!.toFixed(1)} ms`;
      return [result(name, p99, 'ms', '<=', 50, { ...REFERENCE, note })];
    });
  } catch (err) {
    ctx.log(`  notify failed: ${(err as Error).stack ?? String(err)}`);
    return [failed(name, 'ms', '<=', 50, `failed: ${(err as Error).message}`, REFERENCE)];
  }
}
