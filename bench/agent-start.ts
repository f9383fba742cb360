/**
 * Node-agent start after a long history (issue 13): node `a` holds 100,000 client records
 * (--quick 10,000), then the cluster's log grows by a long churn of creates and removes of other
 * clients on `a` (GK_BENCH_HISTORY events, default 10,000,000 as the target says; --quick
 * 200,000), written fast as big decisions of 1,000 events each: a message is applied as a whole, so
 * the state is the one 10,000,000 one-event decisions would leave, and a full replay still decodes,
 * validates and folds every event (it reads fewer, larger messages). Measured: the load
 * a starting agent does (`LiveClusterView.open` with its trackedNodes, as ViewSupervisor.open does
 * at start), once without snapshots (the whole log is decoded, validated and folded) and once
 * from the snapshot written by the previous view's clean close, plus a 1,000-decision tail.
 * Node's own process start (~0.3 s) is not included: the load is what grows with history.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { encodeDecision, subjects } from '#contracts';
import { LiveClusterView, loadCluster } from '#cluster-store';
import { seal, type ClusterState } from '#domain';
import { BenchResult, failed, result } from './report';
import { bar, BenchContext, benchClient, BenchSystem, CLUSTER, Progress, withBenchSystem } from './harness';

const SETUP_BATCH = 2000;
const TAIL = 1000;
/** History is written as big sealed decisions (~200 KB): 10,000,000 events in ~10,000 messages. */
const HISTORY_EVENTS_PER_MESSAGE = 1000;
/** Big messages in flight while the history is written (each ~200 KB). */
const HISTORY_IN_FLIGHT = 32;

export async function runAgentStart(ctx: BenchContext): Promise<BenchResult[]> {
  const records = ctx.quick ? 10_000 : 100_000;
  const history = Number(process.env.GK_BENCH_HISTORY) || (ctx.quick ? 200_000 : 10_000_000);
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
      // Closed before the history is written: its consumer would fold all of it meanwhile.
      await admin.close({ snapshot: false });
      const churn = (events: number, label: string, perMessage = HISTORY_EVENTS_PER_MESSAGE) =>
        writeChurn(b, admin.state, events, label, perMessage, (done) => progress.update(`writing history ${bar(done, events)}`));
      const written = performance.now();
      await churn(history, 'long');
      progress.done(`${history.toLocaleString('en-US')} events of history written in ${((performance.now() - written) / 1000).toFixed(1)} s`);

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
      await churn(TAIL, 'tail', 1); // the tail as the services write it: one decision a message
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

/**
 * Appends `events` churn events (a ClientRecorded then the ClientRemoved of the same short-named
 * client on `a`, so the records stay as they were) in sealed decisions of `perMessage` events,
 * pipelined. Each message links to the previous one like an agent's append (the expectation
 * readers check, chain.ts): nothing else writes to this private stream meanwhile, so every
 * publish's sequence is known in advance; a wrong guess fails loudly (10071).
 */
async function writeChurn(b: BenchSystem, state: ClusterState, events: number, label: string, perMessage: number, onProgress: (done: number) => void): Promise<void> {
  const js = jetstream(b.opened.nc, { timeout: 60_000 });
  const subject = subjects.cluster(b.names, CLUSTER);
  let last = await b.opened.store.currentVersion(subject);
  let sequence = (await (await jetstreamManager(b.opened.nc)).streams.info(b.names.stream)).state.last_seq;
  const inFlightLimit = perMessage === 1 ? 1000 : HISTORY_IN_FLIGHT;
  let inflight: Promise<unknown>[] = [];
  const time = new Date();
  for (let done = 0, m = 0; done < events; m++) {
    const bodies = [];
    for (let k = 0; k < perMessage && done < events; k++, done++) {
      const client = Buffer.from(`${label}-${done >> 1}`).toString('hex');
      bodies.push(done % 2 === 0 ? { type: 'ClientRecorded' as const, node: 'a', clients: [{ client }] } : { type: 'ClientRemoved' as const, node: 'a', clients: [client] });
    }
    const message = seal(state, bodies, { cluster: CLUSTER, decisionId: `churn-${label}-${m}`, actor: 'a', time });
    inflight.push(js.publish(subject, encodeDecision(message), { msgID: message.id, expect: { lastSubjectSequence: last } }));
    last = ++sequence;
    if (inflight.length >= inFlightLimit) {
      await Promise.all(inflight);
      inflight = [];
      onProgress(done);
    }
  }
  await Promise.all(inflight);
}
