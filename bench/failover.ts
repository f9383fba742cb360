/**
 * Failover (issue 11, SPEC §2 identities): 4 hosts a–d, each agent able to serve every identity;
 * N clients (100,000; --quick 5,000) spread over the 4 identities. Host b is killed (kill -9 of
 * its agent: its NFS server is gone with it) and the cluster manager moves identity b to host a
 * (the `move` command gracectl appends); b's NFS server starts on a (`grace_start` naming b) and
 * b's clients reclaim there (`reclaim`, `reclaim_complete` naming b); a says `grace_done` for b.
 *
 * Measured from the move: (1) until every client of b has its reclaim answered and
 * `GraceEnded(all-reclaimed)` is in the log (target ≤ 2 s for 25,000 moved clients); (2) how long
 * the other hosts refused new state (`may_grant` NFS4ERR_GRACE, polled on a, c, d until it is OK
 * again). References: the 90 s default grace of knfsd and ganesha, which CTDB imposes on the whole
 * cluster on every address move.
 *
 * The records are written straight to the log (setup, not measured), as in bench/storm.ts, whose
 * machinery this reuses.
 */
import { executeOnce } from '#cluster-store';
import { BenchResult, failed, result } from './report';
import { AgentPool, bar, BenchContext, CLUSTER, Progress, withBenchSystem } from './harness';
import { clientsPerNode, CONNECTIONS_PER_AGENT, IN_FLIGHT_PER_AGENT, recordClients, reclaimAll, STORM_NODES, watchGraceEnd } from './storm';

const FAILED_HOST = 'b';
const TAKEOVER_HOST = 'a';
const TARGET_S = 2;
const REFERENCE = { reference: 90, referenceSource: 'documented: knfsd/ganesha default grace; CTDB puts the whole cluster in it on every address move' };
/** How often each surviving host asks `may_grant` while it waits for new state. */
const GRANT_POLL_MS = 10;

export async function runFailover(ctx: BenchContext): Promise<BenchResult[]> {
  const clients = ctx.quick ? 5_000 : 100_000;
  const moved = Math.ceil(clients / STORM_NODES.length);
  const size = `${moved.toLocaleString('en-US')} moved clients of ${clients.toLocaleString('en-US')} on ${STORM_NODES.length} hosts`;
  const name = `failover: host ${FAILED_HOST} killed, its identity moved, all its clients reclaimed and grace ended (${size})`;
  const refusedName = `failover: other hosts refused new state (${size})`;
  try {
    return await withBenchSystem(ctx, 'failover', { nodes: STORM_NODES, coordinator: true, agentsServeAll: true }, async (b) => {
      const perNode = clientsPerNode('failover', clients, STORM_NODES);
      const progress = new Progress('failover');
      await recordClients(b, perNode, progress);
      // The surviving hosts' NFS servers, and what they may do before the failure (grant new state).
      const pools = new Map<string, AgentPool>();
      for (const a of b.system.agents) if (a.node !== FAILED_HOST) pools.set(a.node!, await AgentPool.open(a.node!, a.jsonSocket!, CONNECTIONS_PER_AGENT));
      const takeover = pools.get(TAKEOVER_HOST)!;
      for (const pool of pools.values()) {
        const granted = await pool.request('may_grant');
        if (granted.status !== 'OK') throw new Error(`may_grant on ${pool.node} before the failure: ${granted.status} ${granted.error ?? ''}`);
      }

      await b.system.agent(FAILED_HOST).process.kill('SIGKILL');
      progress.done(`host ${FAILED_HOST} killed (agent kill -9); moving identity ${FAILED_HOST} to host ${TAKEOVER_HOST}`);
      const graceEnd = await watchGraceEnd(b);
      const statuses = new Map<string, number>();
      const count = (s: string) => statuses.set(s, (statuses.get(s) ?? 0) + 1);
      let answered = 0;
      const t0 = performance.now();
      const ticker = setInterval(() => progress.update(`reclaiming on ${TAKEOVER_HOST} ${bar(answered, moved * 2)} ${((performance.now() - t0) / 1000).toFixed(1)} s`), 200);
      const refused = [...pools.values()].map((pool) => refusedUntilGranted(pool, () => graceEnd.ended !== undefined));
      try {
        const move = await executeOnce(b.opened.store, b.names, CLUSTER, { type: 'move', identity: FAILED_HOST, host: TAKEOVER_HOST }, { actor: 'bench:cluster-manager' });
        if (!move.ok) throw new Error(`move ${FAILED_HOST} ${TAKEOVER_HOST}: ${move.rejection.code} ${move.rejection.message}`);
        const identity = { identity: FAILED_HOST };
        const started = await takeover.request('grace_start', identity);
        if (started.status !== 'OK') throw new Error(`grace_start for ${FAILED_HOST} on ${TAKEOVER_HOST}: ${started.status} ${started.error ?? ''}`);
        await reclaimAll(takeover, perNode.get(FAILED_HOST)!, identity, (status) => {
          count(status);
          answered++;
        });
        const done = await takeover.request('grace_done', identity, 120_000);
        if (done.status !== 'OK') throw new Error(`grace_done for ${FAILED_HOST} on ${TAKEOVER_HOST}: ${done.status} ${done.error ?? ''}`);
        const lastAnswer = performance.now();
        const deadline = Date.now() + 60_000;
        while (!graceEnd.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
        const seconds = (Math.max(lastAnswer, graceEnd.ended?.at ?? Infinity) - t0) / 1000;
        const refusedSeconds = (await Promise.all(refused)).map((r) => ({ host: r.host, seconds: (r.grantedAt - t0) / 1000, refusals: r.refusals }));
        clearInterval(ticker);
        const summary = [...statuses].map(([k, v]) => `${k}: ${v}`).join(', ') + (takeover.delays ? `, NFS4ERR_DELAY retried: ${takeover.delays}` : '');
        progress.done(`done in ${seconds.toFixed(2)} s (${summary}; grace ended: ${graceEnd.ended?.event.reason ?? 'not seen'})`);
        progress.done(`new state refused on ${refusedSeconds.map((r) => `${r.host} ${r.seconds.toFixed(2)} s (${r.refusals} may_grant refused)`).join(', ')}`);

        const problems: string[] = [];
        const accepted = statuses.get('reclaim OK') ?? 0;
        if (accepted !== moved) problems.push(`only ${accepted} of ${moved} reclaims accepted (${summary})`);
        if (graceEnd.ended?.event.reason !== 'all-reclaimed') problems.push(`grace ended by ${graceEnd.ended?.event.reason ?? 'nothing within 60 s'}, not all-reclaimed`);
        if (refusedSeconds.some((r) => r.refusals === 0)) problems.push('a surviving host never refused new state: the move did not put the cluster in grace');
        const invalid = problems.length ? `; INVALID: ${problems.join('; ')}` : '';
        const note = `${size}; from the move (appended as gracectl does) through grace_start on ${TAKEOVER_HOST}, ${IN_FLIGHT_PER_AGENT} reclaims in flight, grace_done, to GraceEnded${invalid}`;
        const longest = Math.max(...refusedSeconds.map((r) => r.seconds));
        const refusedNote = `the longest of ${refusedSeconds.map((r) => r.host).join(', ')} (may_grant every ${GRANT_POLL_MS} ms from the move until OK): ${refusedSeconds.map((r) => `${r.host} ${r.seconds.toFixed(2)} s`).join(', ')}${invalid}`;
        return problems.length
          ? [failed(name, 's', '<=', TARGET_S, note, REFERENCE), failed(refusedName, 's', '<=', TARGET_S, refusedNote, REFERENCE)]
          : [result(name, seconds, 's', '<=', TARGET_S, { ...REFERENCE, note }), result(refusedName, longest, 's', '<=', TARGET_S, { ...REFERENCE, note: refusedNote })];
      } finally {
        clearInterval(ticker);
        await graceEnd.stop();
        await Promise.allSettled(refused);
        for (const p of pools.values()) p.close();
      }
    });
  } catch (err) {
    ctx.log(`  failover failed: ${(err as Error).stack ?? String(err)}`);
    return [failed(name, 's', '<=', TARGET_S, `failed: ${(err as Error).message}`, REFERENCE), failed(refusedName, 's', '<=', TARGET_S, `failed: ${(err as Error).message}`, REFERENCE)];
  }
}

/**
 * A surviving host's NFS server asking for new state (`may_grant`) from the move on: refused
 * (NFS4ERR_GRACE) while the moved identity recovers. Resolves with when it was granted again
 * after a refusal (or, if never refused, when grace ended), and how many times it was refused.
 */
async function refusedUntilGranted(pool: AgentPool, graceEnded: () => boolean): Promise<{ host: string; grantedAt: number; refusals: number }> {
  let refusals = 0;
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    const r = await pool.request('may_grant');
    const at = performance.now();
    if (r.status === 'NFS4ERR_GRACE') refusals++;
    else if (r.status !== 'OK') throw new Error(`may_grant on ${pool.node}: ${r.status} ${r.error ?? ''}`);
    else if (refusals > 0 || graceEnded()) return { host: pool.node, grantedAt: at, refusals };
    await new Promise((resolve) => setTimeout(resolve, GRANT_POLL_MS));
  }
  throw new Error(`may_grant on ${pool.node} still refused after 180 s`);
}
