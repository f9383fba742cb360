/**
 * Dead-host detection (SPEC §5 / issue 11): from a host's last heartbeat to the coordinator's
 * report that it is silent, p99 ≤ deadAfter + 100 ms.
 *
 * Real processes: 4 node-agents heartbeating every HEARTBEAT_MS, the grace-coordinator, liveness
 * configured with policy `wait` (the report alone is measured; what a policy then appends is the
 * same decision). Each cycle kills one agent with SIGKILL (its host died: no goodbye), waits for
 * the `MemberSilent` decision in the log, then starts the agent again and waits for `MemberHeard`.
 * Latency = the MemberSilent event's time (the coordinator's clock when it decided) − the `sentAt`
 * of the last heartbeat this process received from that host (the agent's clock): one machine,
 * one clock. The silence itself is deadAfter by design; what is measured beyond it is how late the
 * coordinator notices and how long its append takes.
 */
import { decodeHeartbeat, subjects } from '#contracts';
import { executeOnce } from '#cluster-store';
import { bar, BenchContext, CLUSTER, Progress, withBenchSystem } from './harness';
import { BenchResult, failed, percentile, result } from './report';

const NODES = ['a', 'b', 'c', 'd'];
const HEARTBEAT_MS = 100;
const DEAD_AFTER_MS = 1000;
const TARGET = DEAD_AFTER_MS + 100;

export async function runDeadHost(ctx: BenchContext): Promise<BenchResult[]> {
  const cycles = ctx.quick ? 6 : 40;
  const name = `dead-host detection p99, last heartbeat → coordinator's report (deadAfter ${DEAD_AFTER_MS} ms)`;
  try {
    return await withBenchSystem(ctx, 'deadhost', { nodes: NODES, coordinator: true, env: { GK_HEARTBEAT_MS: String(HEARTBEAT_MS) } }, async (b) => {
      const configured = await executeOnce(b.opened.store, b.names, CLUSTER, { type: 'configure', config: { liveness: { deadAfterMs: DEAD_AFTER_MS, policy: 'wait' } } }, { actor: 'bench-deadhost' });
      if (!configured.ok) throw new Error(`configure: ${configured.rejection.message}`);
      const lastHeartbeat = new Map<string, number>();
      const heartbeats = b.opened.nc.subscribe(subjects.heartbeats(b.names, CLUSTER), {
        callback: (err, msg) => {
          const h = err ? undefined : decodeHeartbeat(msg.data);
          if (h?.ok) lastHeartbeat.set(h.value.host, h.value.sentAt);
        },
      });
      const waiting = new Map<string, (time: number) => void>();
      const subject = subjects.cluster(b.names, CLUSTER);
      const sub = await b.opened.store.subscribe(subject, { fromSequence: (await b.opened.store.currentVersion(subject)) + 1 }, (m) => {
        for (const e of m.message.events) {
          const key = e.type === 'MemberSilent' || e.type === 'MemberHeard' ? `${e.type}:${e.node}` : undefined;
          if (key) waiting.get(key)?.(Date.parse(e.time));
        }
      });
      const next = (type: 'MemberSilent' | 'MemberHeard', node: string) => new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${type} for ${node} within 30 s`)), 30_000);
        waiting.set(`${type}:${node}`, (time) => {
          clearTimeout(timer);
          waiting.delete(`${type}:${node}`);
          resolve(time);
        });
      });

      const latencies: number[] = [];
      const progress = new Progress('dead-host');
      try {
        await new Promise((r) => setTimeout(r, 3 * HEARTBEAT_MS)); // every agent heard
        for (let cycle = 0; cycle < cycles; cycle++) {
          const agent = b.system.agents[cycle % NODES.length]!;
          const node = agent.node!;
          const silent = next('MemberSilent', node);
          await agent.process.kill('SIGKILL');
          const reportedAt = await silent;
          const last = lastHeartbeat.get(node);
          if (last === undefined) throw new Error(`no heartbeat from ${node} was ever received`);
          latencies.push(reportedAt - last);
          const heard = next('MemberHeard', node);
          await b.system.restart(agent, 'SIGKILL');
          await heard;
          progress.update(`${bar(cycle + 1, cycles)} cycle ${cycle + 1}/${cycles}, last ${latencies[latencies.length - 1]} ms`);
        }
      } finally {
        heartbeats.unsubscribe();
        await sub.stop();
      }
      latencies.sort((x, y) => x - y);
      const p99 = percentile(latencies, 99);
      const summary = `p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${latencies[latencies.length - 1]!.toFixed(0)} ms`;
      progress.done(`${cycles} hosts killed: ${summary}`);
      const note = `${cycles} agents killed with SIGKILL, one at a time, 4 hosts, heartbeat every ${HEARTBEAT_MS} ms, deadAfter ${DEAD_AFTER_MS} ms, policy wait; last heartbeat's sentAt → MemberSilent's time; ${summary}`;
      return [result(name, p99, 'ms', '<=', TARGET, { note })];
    });
  } catch (err) {
    ctx.log(`  dead-host failed: ${(err as Error).stack ?? String(err)}`);
    return [failed(name, 'ms', '<=', TARGET, `failed: ${(err as Error).message}`)];
  }
}
