/**
 * `npm run bench [-- --quick] [-- --only storm,notify]`: every target of SPEC §5 measured in one
 * run, each next to its target and, where the thing we replace runs here, next to its figure
 * measured in the same run. Writes bench/results/<date>.json, latest.json and latest.md, and
 * prints the table with the machine and versions it ran on. The growth piece (bench/growth.ts)
 * runs only when named: `npm run bench:growth` (its report: growth.json and growth.md).
 *
 * Every piece uses its own stream prefix (and database) and removes them afterwards; NATS and
 * PostgreSQL are found or started like `npm start` does (#infra).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { connectNats } from '#cluster-store';
import { Client } from 'pg';
import { errorMessage, findNatsServer } from '#infra';
import { ensureInfra, REPO_ROOT } from '../scripts/system';
import type { BenchContext } from './harness';
import { runAgentStart } from './agent-start';
import { runCltrackStartup } from './cltrack-startup';
import { runDeadHost } from './dead-host';
import { runFailover } from './failover';
import { runGrowth } from './growth';
import { runAgentLatency } from './latency';
import { runAgentMemory } from './memory';
import { runNotify } from './notify';
import { runReplay } from './replay-rate';
import { BenchReport, BenchResult, gracekeeperVersion, machineInfo, markdownTable, Versions, writeReport } from './report';
import { runStorm } from './storm';

const PIECES: Record<string, (ctx: BenchContext) => Promise<BenchResult[]>> = {
  latency: runAgentLatency,
  storm: runStorm,
  notify: runNotify,
  replay: runReplay,
  memory: runAgentMemory,
  start: runAgentStart,
  failover: runFailover,
  deadhost: runDeadHost,
  cltrack: runCltrackStartup,
  growth: runGrowth,
};
/** Pieces that run only when named (`--only growth`, `npm run bench:growth`): they take far longer than the rest. */
const ON_REQUEST = new Set(['growth']);
const DEFAULT_PIECES = Object.keys(PIECES).filter((p) => !ON_REQUEST.has(p));

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const onlyArg = args.find((a) => a.startsWith('--only'));
  const only = onlyArg ? (onlyArg.includes('=') ? onlyArg.split('=')[1]! : args[args.indexOf(onlyArg) + 1] ?? '').split(',').filter(Boolean) : DEFAULT_PIECES;
  const unknown = only.filter((p) => !PIECES[p]);
  if (unknown.length) {
    process.stderr.write(`unknown piece(s) ${unknown.join(', ')}; pieces: ${Object.keys(PIECES).join(', ')}\n`);
    return 2;
  }
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const started = Date.now();
  log(`Gracekeeper benchmark${quick ? ' --quick (smaller sizes; every figure means the same as in a full run)' : ''}`);
  const infra = await ensureInfra((m) => log(`  · ${m}`));
  try {
    const ctx: BenchContext = { natsUrl: infra.natsUrl, postgresUrl: infra.postgresUrl, quick, log };
    const machine = machineInfo();
    const versions = await collectVersions(infra.natsUrl, infra.postgresUrl);
    log(`  · ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB; Node ${versions.node}, nats-server ${versions.natsServer}, PostgreSQL ${versions.postgresql}, Gracekeeper ${versions.gracekeeper}`);

    const results: BenchResult[] = [];
    for (const piece of only) {
      log(`\n[${piece}]`);
      const t0 = Date.now();
      results.push(...(await PIECES[piece]!(ctx)));
      log(`  (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    }

    const notes = [
      'Every figure is measured end to end through the real processes (node-agents, client-registry, grace-coordinator) over their real interfaces, on one machine that also runs NATS, PostgreSQL and the load generator.',
      'Acknowledged = durable: an agent answers OK only after JetStream acknowledged the decision (file storage).',
    ];
    if (machine.loadAverage[0]! > machine.cores / 2) {
      notes.push(`The machine was busy with other work when the run started (load average ${machine.loadAverage[0]} on ${machine.cores} cores): every figure here is pessimistic.`);
    }
    if (only.join() !== DEFAULT_PIECES.join()) notes.push(`Only these pieces ran: ${only.join(', ')}.`);
    const report: BenchReport = {
      date: new Date(started).toISOString(),
      mode: quick ? 'quick' : 'full',
      durationSeconds: (Date.now() - started) / 1000,
      machine,
      versions,
      results,
      notes,
    };
    // A run of on-request pieces only (growth) keeps latest.md for the default set's figures.
    const files = writeReport(report, join(REPO_ROOT, 'bench', 'results'), only.every((p) => ON_REQUEST.has(p)) ? only.join('-') : 'latest');
    log('');
    log(markdownTable(report));
    log(`Written: ${files.map((f) => f.replace(REPO_ROOT + '/', '')).join(', ')}`);
    const missed = results.filter((r) => !r.met);
    log(missed.length ? `${missed.length} of ${results.length} targets not met.` : `All ${results.length} targets met.`);
    return 0;
  } finally {
    await infra.stop();
  }
}

async function collectVersions(natsUrl: string, postgresUrl: string): Promise<Versions> {
  let natsServer = 'unknown';
  try {
    const nc = await connectNats(natsUrl, process.env, { timeout: 5000 });
    natsServer = nc.info?.version ?? 'unknown';
    await nc.close();
  } catch (err) {
    const binary = findNatsServer();
    natsServer = binary ? execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim() : `unknown (${errorMessage(err)})`;
  }
  let postgresql = 'unknown';
  const pg = new Client({ connectionString: postgresUrl, connectionTimeoutMillis: 5000 });
  pg.on('error', () => undefined);
  try {
    await pg.connect();
    postgresql = (await pg.query<{ server_version: string }>('show server_version')).rows[0]?.server_version ?? 'unknown';
  } catch (err) {
    postgresql = `unknown (${errorMessage(err)})`;
  } finally {
    await pg.end().catch(() => undefined);
  }
  return { node: process.version.replace(/^v/, ''), natsServer, postgresql, gracekeeper: gracekeeperVersion(REPO_ROOT) };
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
