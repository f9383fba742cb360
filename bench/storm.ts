/**
 * Cluster-wide restart (SPEC §5): 4 node-agents, N clients (100,000; --quick 5,000) holding
 * records spread over the nodes; every agent is restarted, every NFS server sends `grace_start`,
 * and every client reclaims (`reclaim`, then `reclaim_complete`, as a v4.1 client does) through
 * its node's JSON socket with many requests in flight. Each server sends `grace_done` once all its
 * clients are through. Measured: from the moment the grace_starts are sent until every reclaim is
 * answered and `GraceEnded(all-reclaimed)` is in the log. Target ≤ 5 s (SPEC §5); reference: the 90 s
 * default grace period of knfsd and ganesha (what a cluster waits without coordination).
 *
 * The records are written straight to the log in large batches (setup, not measured) so that the
 * agents load them at their restart, as they would after a real cluster-wide outage. While the
 * storm runs, the client-registry's projection lag is sampled (bench/projection-lag.ts).
 */
import { existsSync } from 'node:fs';
import { GkEvent, subjects } from '#contracts';
import { LiveClusterView } from '#cluster-store';
import { BenchResult, failed, result } from './report';
import { AgentPool, bar, BenchContext, BenchSystem, streamLastSequence, benchClient, CLUSTER, forEachConcurrent, Progress, rssMB, withBenchSystem } from './harness';
import { LagSampler, lagResults } from './projection-lag';
import { DumpSampler, dumpResults } from './dump-during-storm';
import { appMain, APPS } from '../scripts/system';

export const STORM_NODES = ['a', 'b', 'c', 'd'];
const SETUP_BATCH = 2000;
/** Requests in flight per agent: an NFS server has many nfsd threads and many clients. */
export const IN_FLIGHT_PER_AGENT = 256;
export const CONNECTIONS_PER_AGENT = 8;
/** The coordinator's snapshots while decisions flow (what gracectl dump loads from); default 5 min. */
const SNAPSHOT_INTERVAL_MS = 5000;

/** `clients`: the storm's size (bench/growth.ts runs it at several). */
export async function runStorm(ctx: BenchContext, clients = ctx.quick ? 5_000 : 100_000): Promise<BenchResult[]> {
  const size = `${clients.toLocaleString('en-US')} clients on ${STORM_NODES.length} nodes`;
  const name = `cluster-wide restart, all reclaimed and grace ended (${size})`;
  try {
    // Without a built client-registry the storm still runs; only the projection lag is missing.
    const registry = existsSync(appMain(APPS.registry));
    return await withBenchSystem(ctx, 'storm', { nodes: STORM_NODES, registry, coordinator: true, env: { GK_SNAPSHOT_INTERVAL_MS: String(SNAPSHOT_INTERVAL_MS) } }, async (b) => {
      const perNode = clientsPerNode('storm', clients, STORM_NODES);
      const progress = new Progress('storm');
      await recordClients(b, perNode, progress);

      // The registry must have caught up before the storm, or its lag would include the setup.
      const lag = registry ? await LagSampler.open(b, ctx) : undefined;
      if (lag) {
        await lag.waitForCatchUp(await streamLastSequence(b), 300_000, (seq, at) => progress.update(`registry projecting setup: ${at}/${seq}`));
        progress.done('registry caught up with the setup');
      }

      // Cluster-wide restart: all agents stop, then start again and load the records.
      const restartStarted = performance.now();
      await Promise.all(b.system.agents.map((a) => a.process.stop()));
      await Promise.all(b.system.agents.map((a) => b.system.restart(a)));
      const agentStartSeconds = (performance.now() - restartStarted) / 1000;
      progress.done(`4 agents restarted and loaded their records in ${agentStartSeconds.toFixed(1)} s`);

      const pools = new Map<string, AgentPool>();
      for (const a of b.system.agents) pools.set(a.node!, await AgentPool.open(a.node!, a.jsonSocket!, CONNECTIONS_PER_AGENT));

      const graceEnd = await watchGraceEnd(b);
      lag?.start();
      const dumps = new DumpSampler(b, ctx.natsUrl);
      dumps.start();

      const statuses = new Map<string, number>();
      const count = (s: string) => statuses.set(s, (statuses.get(s) ?? 0) + 1);
      let answered = 0;
      const total = clients * 2;
      const t0 = performance.now();
      const ticker = setInterval(() => progress.update(`reclaiming ${bar(answered, total)} ${((performance.now() - t0) / 1000).toFixed(1)} s`), 200);
      try {
        await Promise.all(STORM_NODES.map(async (node) => {
          const pool = pools.get(node)!;
          const started = await pool.request('grace_start');
          if (started.status !== 'OK') throw new Error(`grace_start on ${node}: ${started.status} ${started.error ?? ''}`);
          await reclaimAll(pool, perNode.get(node)!, {}, (status) => {
            count(status);
            answered++;
          });
          const done = await pool.request('grace_done', {}, 120_000);
          if (done.status !== 'OK') throw new Error(`grace_done on ${node}: ${done.status} ${done.error ?? ''}`);
        }));
        const lastAnswer = performance.now();
        await dumps.stop();
        const deadline = Date.now() + 60_000;
        while (!graceEnd.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
        const end = Math.max(lastAnswer, graceEnd.ended?.at ?? Infinity);
        const seconds = (end - t0) / 1000;
        clearInterval(ticker);
        const delays = [...pools.values()].reduce((n, p) => n + p.delays, 0);
        const summary = [...statuses].map(([k, v]) => `${k}: ${v}`).join(', ') + (delays ? `, NFS4ERR_DELAY retried: ${delays}` : '');
        progress.done(`done in ${seconds.toFixed(2)} s (${summary}; grace ended: ${graceEnd.ended?.event.reason ?? 'not seen'})`);

        const rss = b.system.agents.map((a) => rssMB(a.process.pid));
        ctx.log(`  storm: agent RSS after the storm (${(clients / STORM_NODES.length).toLocaleString('en-US')} records each): ${rss.map((r) => r.toFixed(0)).join(', ')} MB`);
        await lag?.waitForCatchUp(await streamLastSequence(b), 120_000);
        lag?.stop();

        const accepted = statuses.get('reclaim OK') ?? 0;
        const problems: string[] = [];
        if (accepted !== clients) problems.push(`only ${accepted} of ${clients} reclaims accepted (${summary})`);
        if (graceEnd.ended?.event.reason !== 'all-reclaimed') problems.push(`grace ended by ${graceEnd.ended?.event.reason ?? 'nothing within 60 s'}, not all-reclaimed`);
        const note = `${size}; agents restarted first (load ${agentStartSeconds.toFixed(1)} s, not counted); ${IN_FLIGHT_PER_AGENT} requests in flight per agent; reclaim + reclaim_complete per client` +
          (problems.length ? `; INVALID: ${problems.join('; ')}` : '');
        const storm = problems.length
          ? failed(name, 's', '<=', 5, note, { reference: 90, referenceSource: 'documented: knfsd/ganesha default grace' })
          : result(name, seconds, 's', '<=', 5, { reference: 90, referenceSource: 'documented: knfsd/ganesha default grace', note });
        return [storm, ...lagResults(lag, size, registry ? undefined : 'client-registry is not built'), ...dumpResults(dumps, size)];
      } finally {
        clearInterval(ticker);
        await dumps.stop();
        lag?.stop();
        await graceEnd.stop();
        for (const p of pools.values()) p.close();
      }
    });
  } catch (err) {
    ctx.log(`  storm failed: ${(err as Error).stack ?? String(err)}`);
    return [
      failed(name, 's', '<=', 5, `failed: ${(err as Error).message}`, { reference: 90, referenceSource: 'documented: knfsd/ganesha default grace' }),
      ...lagResults(undefined, size, (err as Error).message),
      ...dumpResults(undefined, size, (err as Error).message),
    ];
  }
}

/** `clients` bench clients spread round-robin over `nodes`. */
export function clientsPerNode(label: string, clients: number, nodes: readonly string[]): Map<string, string[]> {
  const perNode = new Map(nodes.map((n) => [n, [] as string[]]));
  for (let i = 0; i < clients; i++) perNode.get(nodes[i % nodes.length]!)!.push(benchClient(label, i));
  return perNode;
}

/** Setup, not measured: every client's record in the log, in big decisions. */
export async function recordClients(b: BenchSystem, perNode: Map<string, string[]>, progress: Progress): Promise<void> {
  const total = [...perNode.values()].reduce((n, ids) => n + ids.length, 0);
  const writer = await LiveClusterView.open(b.opened.store, b.names, CLUSTER, { trackedNodes: [] });
  let written = 0;
  try {
    for (const [node, ids] of perNode) {
      for (let i = 0; i < ids.length; i += SETUP_BATCH) {
        const r = await writer.execute({ type: 'create', node, clients: ids.slice(i, i + SETUP_BATCH).map((client) => ({ client, hasSession: true })) }, { actor: 'bench-setup' });
        if (!r.ok) throw new Error(`setup create failed: ${r.rejection.message}`);
        written += Math.min(SETUP_BATCH, ids.length - i);
        progress.update(`recording clients ${bar(written, total)}`);
      }
    }
  } finally {
    await writer.close();
  }
  progress.done(`${total.toLocaleString('en-US')} client records written`);
}

/** Watches the log from now on for the first GraceEnded (and when it was seen). */
export async function watchGraceEnd(b: BenchSystem): Promise<{ readonly ended?: { at: number; event: Extract<GkEvent, { type: 'GraceEnded' }> }; stop(): Promise<void> }> {
  const subject = subjects.cluster(b.names, CLUSTER);
  const seen: { ended?: { at: number; event: Extract<GkEvent, { type: 'GraceEnded' }> } } = {};
  const watch = await b.opened.store.subscribe(subject, { fromSequence: (await b.opened.store.currentVersion(subject)) + 1 }, (m) => {
    for (const e of m.message.events) if (e.type === 'GraceEnded' && !seen.ended) seen.ended = { at: performance.now(), event: e };
  });
  return { get ended() { return seen.ended; }, stop: async () => { await watch.stop(); } };
}

/**
 * Every client of `ids` reclaims through `pool` (`reclaim`, then `reclaim_complete`, as a v4.1
 * client does), IN_FLIGHT_PER_AGENT at a time; `fields` are added to each request (e.g. the
 * identity). `answered` gets "op STATUS" for each answer.
 */
export async function reclaimAll(pool: AgentPool, ids: readonly string[], fields: Record<string, unknown>, answered: (status: string) => void): Promise<void> {
  await forEachConcurrent(ids.length, IN_FLIGHT_PER_AGENT, async (i) => {
    const request = { ...fields, client: ids[i]!, hasSession: true };
    let reclaim = await pool.request('reclaim', request);
    // GRACE only while some member is not enforcing yet: retry, as an NFS client would.
    while (reclaim.status === 'NFS4ERR_GRACE') {
      await new Promise((r) => setTimeout(r, 5));
      reclaim = await pool.request('reclaim', request);
    }
    answered(`reclaim ${reclaim.status}`);
    answered(`reclaim_complete ${(await pool.request('reclaim_complete', request)).status}`);
  });
}
