/**
 * `npm start`: the whole Gracekeeper system on this machine, from a fresh clone.
 *
 * NATS and PostgreSQL are found or started (#infra; a database `gracekeeper` is created on the
 * PostgreSQL server found unless DATABASE_URL names one), then grace-coordinator,
 * client-registry and three node-agents (a, b, c) run as separate processes, each with its own
 * admin port, and a, b, c are added as members. `.tmp/run/state.json` tells `npm run demo`
 * where everything is.
 *
 * A service that dies is restarted (after 1 s) up to 3 times a minute, with the reason and the
 * last lines of its log printed; a service that keeps dying stops everything (exit 1): a system
 * that is silently missing a part is worse than one that stops. Ctrl-C or SIGTERM stops the
 * agents, then the services, then whatever infra itself started; a second Ctrl-C kills at once.
 */
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { errorMessage, randomToken, redactUrl } from '#infra';
import { followLogs, lastRecordsText } from './log-follow';
import { describeExit, ExitStatus } from './processes';
import { ensureDatabase, ensureInfra, Infra, REPO_ROOT, RunningService, System } from './system';

/** Where sockets, end-grace files, logs and the state file go (GK_RUN_DIR: tests run their own). */
export const RUN_DIR = process.env.GK_RUN_DIR || join(REPO_ROOT, '.tmp', 'run');
export const STATE_FILE = join(RUN_DIR, 'state.json');
export const START_NODES = ['a', 'b', 'c'];

/** What `npm start` leaves in `.tmp/run/state.json` for the demo and for curious operators. */
export interface RunState {
  pid: number;
  startedAt: string;
  natsUrl: string;
  prefix: string;
  cluster: string;
  nodes: string[];
  services: ReturnType<System['info']>;
}

const RESTARTS_PER_MINUTE = 3;

async function main(): Promise<void> {
  const prefix = process.env.GK_PREFIX || 'gk';
  const cluster = process.env.GK_CLUSTER || 'default';
  const say = (line = '') => process.stdout.write(`${line}\n`);
  const note = (line: string) => say(`  · ${line}`);

  say(`Starting Gracekeeper (cluster ${cluster}, prefix ${prefix}, nodes ${START_NODES.join(' ')})`);
  say('  DEVELOPMENT MODE (GK_DEV_MODE=1): no NATS credentials, stream and cluster created on demand. Not for production: docs/security.md');
  let infra: Infra | undefined;
  let system: System | undefined;
  let shuttingDown: Promise<void> | undefined;
  let events: { stop(): void } | undefined;
  const restarts = new Map<string, number[]>();

  const shutdown = (code: number, why: string): Promise<void> =>
    (shuttingDown ??= (async () => {
      say(`\n${why}: stopping…`);
      events?.stop();
      if (system) {
        const ended = await system.stop(`npm start is stopping (${why})`);
        say(`  · services stopped: ${ended.map((e) => `${e.name} ${describeExit(e.status)}`).join(', ')}`);
      }
      if (infra) {
        await infra.stop();
        if (infra.nats.started || infra.postgres.started) say('  · infrastructure started by npm start stopped');
      }
      rmSync(STATE_FILE, { force: true });
      say('Stopped.');
      process.exit(code);
    })());

  let interrupts = 0;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (++interrupts > 1) {
        say(`\n${signal} again: killing everything now`);
        for (const s of system?.services ?? []) void s.process.kill('SIGKILL');
        void infra?.stop().finally(() => process.exit(130));
        setTimeout(() => process.exit(130), 3000).unref();
        return;
      }
      void shutdown(0, signal === 'SIGINT' ? 'Ctrl-C' : signal);
    });
  }

  const onUnexpectedExit = (service: RunningService, status: ExitStatus) => {
    // Ctrl-C reaches the whole process group: the services may see it before we do.
    setTimeout(() => {
      if (shuttingDown || system?.isStopping) return;
      const now = Date.now();
      const recent = (restarts.get(service.name) ?? []).filter((t) => now - t < 60_000);
      say(`\n✗ ${service.name} ${describeExit(status)}. Its last records (${rel(service.logFile)}):`);
      say(lastRecordsText(service.name, service.logFile));
      if (recent.length >= RESTARTS_PER_MINUTE) {
        void shutdown(1, `${service.name} died ${recent.length + 1} times within a minute`);
        return;
      }
      recent.push(now);
      restarts.set(service.name, recent);
      say(`  restarting ${service.name} (${recent.length}/${RESTARTS_PER_MINUTE} this minute)…`);
      setTimeout(() => {
        if (shuttingDown || !system) return;
        system.restart(service, 'stop', `restart after it ${describeExit(status)}`).then(
          () => say(`✓ ${service.name} is back (pid ${service.process.pid})`),
          (err: unknown) => void shutdown(1, `${service.name} did not come back: ${errorMessage(err)}`),
        );
      }, 1000);
    }, 300);
  };

  try {
    infra = await ensureInfra(note);
    const databaseUrl = process.env.DATABASE_URL ? infra.postgresUrl : await ensureDatabase(infra.postgresUrl, 'gracekeeper');
    if (!process.env.DATABASE_URL) note(`PostgreSQL: database gracekeeper ready`);
    const adminToken = process.env.GK_ADMIN_TOKEN || randomToken(16);
    rmSync(STATE_FILE, { force: true });
    system = new System({
      natsUrl: infra.natsUrl,
      databaseUrl,
      prefix,
      cluster,
      nodes: START_NODES,
      runDir: RUN_DIR,
      adminToken,
      preferredPorts: { coordinator: 8081, registry: 8082, firstAgent: 8091 },
      // Any host may take over another's identity (gracectl move; the demo's failover act).
      agentsServeAll: true,
      log: note,
      skipMissing: true,
      onUnexpectedExit,
    });
    await system.start();

    const state: RunState = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      natsUrl: infra.natsUrl,
      prefix,
      cluster,
      nodes: START_NODES,
      services: system.info(),
    };
    mkdirSync(RUN_DIR, { recursive: true });
    writeFileSync(STATE_FILE, JSON.stringify(state, null, 2) + '\n');
    chmodSync(STATE_FILE, 0o600);

    say();
    say('Gracekeeper is running.');
    say();
    say(`  NATS        ${redactUrl(infra.natsUrl)}${infra.nats.started ? ' (started by npm start, removed on exit)' : ''}`);
    say(`  PostgreSQL  ${redactUrl(databaseUrl)}${infra.postgres.started ? ' (embedded, started by npm start, removed on exit)' : ''}`);
    say();
    const width = Math.max(...system.services.map((s) => s.name.length));
    for (const s of system.services) {
      const socket = s.jsonSocket ? `  JSON socket ${rel(s.jsonSocket)}  cld socket ${rel(s.cldSocket!)}` : '';
      say(`  ${s.name.padEnd(width)}  REST ${s.adminUrl}  OpenAPI ${s.docsUrl}${socket}`);
    }
    say();
    say(`  Admin token (bearer, for REST calls that change state; printed only this once):`);
    say(`    ${adminToken}${process.env.GK_ADMIN_TOKEN ? '   (from GK_ADMIN_TOKEN)' : ''}`);
    say();
    say('  Try, in another terminal:');
    say(`    NATS_URL=${infra.natsUrl} GK_PREFIX=${prefix} GK_CLUSTER=${cluster} npx gracectl dump`);
    say(`    npm run demo`);
    const coordinator = system.service('coordinator');
    if (coordinator) say(`    open ${coordinator.adminUrl}/console    # the web console: watch the demo's grace period live`);
    say(`    curl ${system.services[0]!.adminUrl}/health`);
    say(`    GK_AGENT_SOCKET=${rel(system.agents[0]!.jsonSocket!)} npx gk-cltrack create 0a0b0c    # nfsdcltrack drop-in against node ${system.agents[0]!.node}`);
    say();
    say(`  Logs: every service's records (JSON lines) in ${rel(join(RUN_DIR, 'logs'))}/<service>.log   End-grace files (no nfsd here): ${rel(RUN_DIR)}/<node>/v4_end_grace`);
    say('  Ctrl-C stops everything.');
    say();
    say('Events (info and above, as they happen):');
    events = followLogs(system.services.map((s) => ({ name: s.name, file: s.logFile })), say);
  } catch (err) {
    if (shuttingDown) return; // stopped while starting (Ctrl-C): said already
    say(`\n✗ ${errorMessage(err)}`);
    await shutdown(1, 'Start-up failed');
  }
}

function rel(path: string): string {
  return relative(process.cwd(), path) || '.';
}

if (require.main === module) void main();
