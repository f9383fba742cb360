/**
 * node-agent memory with 100,000 client records (SPEC §5: ≤ 200 MB RSS). The records are created
 * through the agent's JSON socket by many concurrent callers (its own group commit writes them),
 * then the agent is restarted and loads them from the log, as after a reboot. The figure is the
 * larger RSS of the two moments (after the creates, after the reload and a round of checks).
 */
import { AgentPool, bar, BenchContext, benchClient, forEachConcurrent, Progress, rssMB, withBenchSystem } from './harness';
import { BenchResult, failed, result } from './report';

const RECORDS = 100_000;
const IN_FLIGHT = 256;

export async function runAgentMemory(ctx: BenchContext): Promise<BenchResult[]> {
  const name = `node-agent RSS with ${RECORDS.toLocaleString('en-US')} client records`;
  try {
    return await withBenchSystem(ctx, 'memory', { nodes: ['a'] }, async (b) => {
      const agent = b.system.agent('a');
      const progress = new Progress('memory');
      const idle = rssMB(agent.process.pid);
      let pool = await AgentPool.open('a', agent.jsonSocket!, 8);
      let created = 0;
      const t0 = performance.now();
      await forEachConcurrent(RECORDS, IN_FLIGHT, async (i) => {
        const r = await pool.request('create', { client: benchClient('mem', i), hasSession: true });
        if (r.status !== 'OK') throw new Error(`create: ${r.status} ${r.error ?? ''}`);
        created++;
        if (created % 1000 === 0) progress.update(`creating ${bar(created, RECORDS)}`);
      });
      const createSeconds = (performance.now() - t0) / 1000;
      const afterCreates = rssMB(agent.process.pid);
      pool.close();

      await b.system.restart(agent);
      pool = await AgentPool.open('a', agent.jsonSocket!, 4);
      const missing: string[] = [];
      await forEachConcurrent(1000, 64, async (k) => {
        const i = Math.floor((k * RECORDS) / 1000);
        const r = await pool.request('check', { client: benchClient('mem', i) });
        if (r.status !== 'OK') missing.push(`${i}: ${r.status}`);
      });
      const afterReload = rssMB(agent.process.pid);
      pool.close();
      if (missing.length) throw new Error(`after the restart, ${missing.length} of 1000 sampled records failed check (${missing.slice(0, 3).join(', ')})`);
      const rss = Math.max(afterCreates, afterReload);
      const note = `idle ${idle.toFixed(0)} MB, after ${RECORDS.toLocaleString('en-US')} creates ${afterCreates.toFixed(0)} MB (${Math.round(RECORDS / createSeconds).toLocaleString('en-US')} creates/s, ${IN_FLIGHT} in flight), after restart and reload ${afterReload.toFixed(0)} MB`;
      progress.done(note);
      return [result(name, rss, 'MB', '<=', 200, { note })];
    });
  } catch (err) {
    ctx.log(`  memory failed: ${(err as Error).stack ?? String(err)}`);
    return [failed(name, 'MB', '<=', 200, `failed: ${(err as Error).message}`)];
  }
}
