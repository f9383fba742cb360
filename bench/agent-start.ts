/**
 * Node-agent start after a long history (issue 13): node `a` holds 100,000 client records
 * (--quick 10,000), then the cluster's log grows by a long churn of creates and removes of other
 * clients on `a` (GK_BENCH_HISTORY events, default 200,000; --quick 20,000; the target's history
 * is 10,000,000, too long to write on a shared 2-core machine in a bench run). Measured: the load
 * a starting agent does (`LiveClusterView.open` with its trackedNodes, as ViewSupervisor.open does
 * at start), once without snapshots (the whole log is decoded, validated and folded) and once
 * from the snapshot written by the previous view's clean close, plus a 1,000-decision tail.
 * Node's own process start (~0.3 s) is not included: the load is what grows with history.
 */
import { jetstream } from '@nats-io/jetstream';
import { encodeDecision, subjects } from '#contracts';
import { LiveClusterView, loadCluster } from '#cluster-store';
import { seal } from '#domain';
import { BenchResult, failed, result } from './report';
import { bar, BenchContext, benchClient, CLUSTER, Progress, withBenchSystem } from './harness';

const SETUP_BATCH = 2000;
const TAIL = 1000;

export async function runAgentStart(ctx: BenchContext): Promise<BenchResult[]> {
  const records = ctx.quick ? 10_000 : 100_000;
  const history = Number(process.env.GK_BENCH_HISTORY) || (ctx.quick ? 20_000 : 200_000);
  const size = `${records.toLocaleString('en-US')} records, after ${history.toLocaleString('en-US')} events of history`;
  const name = `node-agent start from snapshot (${size})`;
  const fullName = `node-agent start, full replay (${size})`;
  try {
    return await withBenchSystem(ctx, 'start', { nodes: [], addMembers: false }, async (b) => {
      const progress = new Progress('start');
      const admin = await LiveClusterView.open(b.opened.store, b.names, CLUSTER, { trackedNodes: [] });
      await admin.execute({ type: 'add', nodes: ['a', 'b'] }, { actor: 'bench-setup' });
      for (let i = 0; i < records; i += SETUP_BATCH) {
        const clients = Array.from({ length: Math.min(SETUP_BATCH, records - i) }, (_, k) => ({ client: benchClient('start', i + k), hasSession: true }));
        const r = await admin.execute({ type: 'create', node: 'a', clients }, { actor: 'bench-setup' });
        if (!r.ok) throw new Error(`setup create failed: ${r.rejection.message}`);
        progress.update(`recording clients ${bar(i + clients.length, records)}`);
      }
      progress.done(`${records.toLocaleString('en-US')} records written`);
      const churn = async (events: number, label: string) => {
        // Unconditional, pipelined publishes of real sealed decisions (setup, not measured).
        const js = jetstream(b.opened.nc);
        const subject = subjects.cluster(b.names, CLUSTER);
        let inflight: Promise<unknown>[] = [];
        for (let i = 0; i < events; i++) {
          const client = benchClient(`churn-${label}`, i >> 1);
          const body = i % 2 === 0 ? { type: 'ClientRecorded' as const, node: 'a', clients: [{ client }] } : { type: 'ClientRemoved' as const, node: 'a', clients: [client] };
          const m = seal(admin.state, [body], { cluster: CLUSTER, decisionId: `churn-${label}-${i}`, actor: 'a', time: new Date() });
          inflight.push(js.publish(subject, encodeDecision(m), { msgID: m.id }));
          if (inflight.length >= 1000) {
            await Promise.all(inflight);
            inflight = [];
            progress.update(`writing history ${bar(i, events)}`);
          }
        }
        await Promise.all(inflight);
      };
      await churn(history, 'long');
      progress.done(`${history.toLocaleString('en-US')} events of history written`);
      await admin.close({ snapshot: false });

      // Full replay: what every start did before snapshots.
      let t0 = performance.now();
      const full = await LiveClusterView.open(b.opened.store, b.names, CLUSTER, { trackedNodes: ['a'] });
      const fullSeconds = (performance.now() - t0) / 1000;
      if (full.state.records.get('a')?.current.size !== records) throw new Error(`full replay holds ${full.state.records.get('a')?.current.size} records, expected ${records}`);
      await full.close();
      progress.done(`full replay: ${fullSeconds.toFixed(2)} s`);

      // A view with snapshots writes one on clean close; then a short tail; then the timed start.
      const writer = await LiveClusterView.open(b.opened.store, b.names, CLUSTER, { trackedNodes: ['a'], snapshots: b.opened.snapshots });
      t0 = performance.now();
      await writer.close();
      const writeSeconds = (performance.now() - t0) / 1000;
      await churn(TAIL, 'tail');
      t0 = performance.now();
      const started = await LiveClusterView.open(b.opened.store, b.names, CLUSTER, { trackedNodes: ['a'], snapshots: b.opened.snapshots });
      const snapSeconds = (performance.now() - t0) / 1000;
      const check = await loadCluster(b.opened.store, b.names, CLUSTER, { trackedNodes: ['a'] });
      const same = started.version === check.version && started.state.records.get('a')?.current.size === check.state.records.get('a')?.current.size;
      await started.close({ snapshot: false });
      if (!started.loadedFromSnapshot || !same) throw new Error(`the snapshot start did not use the snapshot or differs from a full replay (from ${started.loadedFromSnapshot})`);
      progress.done(`from snapshot: ${snapSeconds.toFixed(3)} s (snapshot written on close in ${writeSeconds.toFixed(2)} s, ${TAIL} decisions of tail)`);
      const note = `${size}; view load as the agent does it at start, in process (Node start not included); ${TAIL} decisions after the snapshot; target history 10,000,000`;
      return [
        result(name, snapSeconds, 's', '<=', 1, { reference: fullSeconds, referenceSource: 'measured: the same start replaying the whole log', note }),
        result(fullName, fullSeconds, 's', '<=', 1, { note: `${size}; no snapshot: grows with history (for comparison)` }),
      ];
    });
  } catch (err) {
    ctx.log(`  agent start failed: ${(err as Error).stack ?? String(err)}`);
    return [failed(name, 's', '<=', 1, `failed: ${(err as Error).message}`)];
  }
}
