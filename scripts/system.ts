// Longer than 300 lines on purpose: the one place that starts, supervises and stops every service of `npm start` and the demo, in start-up order.
/**
 * The whole Gracekeeper system on one machine, as separate processes: grace-coordinator,
 * client-registry and one node-agent per node, on NATS and PostgreSQL found or started by
 * #infra. Used by `npm start` (scripts/start.ts), `npm run demo` and the benchmarks, each with
 * its own prefix and run directory.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Client } from 'pg';
import { databaseUrl, ensureNats, ensurePostgres, freePort, Log, ServiceHandle } from '#infra';
import { AgentClient } from '#agent-client';
import { lastRecordsText } from './log-follow';
import { describeExit, ExitStatus, httpOk, ManagedProcess, waitUntil } from './processes';

/** The repository root (this file runs from dist/scripts/). */
export const REPO_ROOT = resolve(__dirname, '..', '..');

export const APPS = {
  coordinator: 'grace-coordinator',
  registry: 'client-registry',
  agent: 'node-agent',
  gracectl: 'gracectl',
} as const;

export function appMain(app: string, root = REPO_ROOT): string {
  return join(root, 'dist', 'apps', app, 'src', 'main.js');
}

export type ServiceKind = 'coordinator' | 'registry' | 'agent';

export interface ServiceInfo {
  name: string;
  kind: ServiceKind;
  node?: string;
  adminPort: number;
  adminUrl: string;
  docsUrl: string;
  /** node-agent only. */
  jsonSocket?: string;
  cldSocket?: string;
  endGraceFile?: string;
  logFile: string;
}

export interface RunningService extends ServiceInfo {
  process: ManagedProcess;
}

export interface Infra {
  natsUrl: string;
  /** The base server URL as found (its own database). */
  postgresUrl: string;
  nats: ServiceHandle;
  postgres: ServiceHandle;
  stop(): Promise<void>;
}

/** NATS and PostgreSQL as #infra finds or starts them. */
export async function ensureInfra(log: Log, needPostgres = true): Promise<Infra> {
  const nats = await ensureNats({ log });
  let postgres: ServiceHandle = { url: '', started: false, stop: async () => undefined };
  if (needPostgres) {
    try {
      postgres = await ensurePostgres({ log });
    } catch (err) {
      await nats.stop();
      throw err;
    }
  }
  return {
    natsUrl: nats.url,
    postgresUrl: postgres.url,
    nats,
    postgres,
    // PostgreSQL first: nothing of ours needs it once the services are gone; NATS last.
    stop: async () => {
      await postgres.stop().catch((err: unknown) => log(`stopping PostgreSQL: ${(err as Error).message}`));
      await nats.stop().catch((err: unknown) => log(`stopping NATS: ${(err as Error).message}`));
    },
  };
}

/** Creates database `name` on the server of `serverUrl` unless it exists; returns its URL. */
export async function ensureDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) {
      await client.query(`create database ${client.escapeIdentifier(name)}`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // created by someone else meanwhile
      });
    }
  } finally {
    await client.end().catch(() => undefined);
  }
  return databaseUrl(serverUrl, name);
}

export interface SystemOptions {
  natsUrl: string;
  /** Omit to run without the client-registry. */
  databaseUrl?: string;
  prefix: string;
  cluster: string;
  nodes: string[];
  /** Where sockets, end-grace files and logs go: `<runDir>/<node>/…`, `<runDir>/logs/…`. */
  runDir: string;
  adminToken: string;
  withCoordinator?: boolean;
  /** Admin ports to try first (taken ones are replaced by free ones). */
  preferredPorts?: { coordinator?: number; registry?: number; firstAgent?: number };
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** Add the nodes as members (gracectl add) before the agents start. Default true. */
  addMembers?: boolean;
  /**
   * Every agent may serve every node's identity (`--identity`, its own first), so that a
   * survivor can take over a failed host's identity (`gracectl move`, docs/failover.md).
   */
  agentsServeAll?: boolean;
  log: Log;
  /** A service died without being asked to; the caller decides (restart, stop everything, fail). */
  onUnexpectedExit?: (service: RunningService, status: ExitStatus) => void;
  /** Run without a service whose build is missing (logged) instead of failing. */
  skipMissing?: boolean;
  /** How long each service may take to become ready. */
  readyTimeoutMs?: number;
  root?: string;
}

export class System {
  readonly services: RunningService[] = [];
  private stopping = false;

  constructor(readonly options: SystemOptions) {}

  get agents(): RunningService[] {
    return this.services.filter((s) => s.kind === 'agent');
  }

  agent(node: string): RunningService {
    const found = this.services.find((s) => s.kind === 'agent' && s.node === node);
    if (!found) throw new Error(`no node-agent for node ${node}`);
    return found;
  }

  service(kind: ServiceKind): RunningService | undefined {
    return this.services.find((s) => s.kind === kind);
  }

  /**
   * The environment every Gracekeeper program of this system reads. A local system is a
   * development one (docs/security.md): no NATS credentials, the stream created on demand, agents
   * that add themselves to the cluster. Each program announces it at start.
   */
  commonEnv(): Record<string, string> {
    return {
      GK_DEV_MODE: '1',
      GK_AUTO_JOIN: '1',
      NATS_URL: this.options.natsUrl,
      GK_PREFIX: this.options.prefix,
      GK_CLUSTER: this.options.cluster,
      ...(this.options.env ?? {}),
    };
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** Starts every service, in dependency order, each ready before the next. */
  async start(): Promise<void> {
    const o = this.options;
    const root = o.root ?? REPO_ROOT;
    mkdirSync(o.runDir, { recursive: true });
    const ports = o.preferredPorts ?? {};
    const taken = new Set<number>();
    const port = async (preferred?: number) => {
      let p = preferred;
      if (p === undefined || taken.has(p) || !(await bindable(p))) p = await freePort();
      while (taken.has(p)) p = await freePort();
      taken.add(p);
      return p;
    };

    if (o.withCoordinator ?? true) {
      await this.launch({ kind: 'coordinator', name: APPS.coordinator, app: APPS.coordinator, adminPort: await port(ports.coordinator), root });
    }
    if (o.databaseUrl) {
      await this.launch({ kind: 'registry', name: APPS.registry, app: APPS.registry, adminPort: await port(ports.registry), root, env: { DATABASE_URL: o.databaseUrl } });
    }
    if (o.addMembers ?? true) await this.gracectl(['add', ...o.nodes]);
    let agentPort = ports.firstAgent;
    for (const node of o.nodes) {
      const dir = join(o.runDir, node);
      // A socket left by an agent that was killed would make the new one fail to bind.
      rmSync(join(dir, 'agent.sock'), { force: true });
      rmSync(join(dir, 'cld.sock'), { force: true });
      mkdirSync(dir, { recursive: true });
      // Stand-in for /proc/fs/nfsd/v4_end_grace: agents open it without O_CREAT, as nfsdcld
      // does, so that on a host without nfsd nothing is created. Here it must exist to be written.
      writeFileSync(join(dir, 'v4_end_grace'), '');
      await this.launch({
        kind: 'agent', node, name: `${APPS.agent} ${node}`, app: APPS.agent, root,
        adminPort: await port(agentPort),
        jsonSocket: join(dir, 'agent.sock'),
        cldSocket: join(dir, 'cld.sock'),
        endGraceFile: join(dir, 'v4_end_grace'),
      });
      if (agentPort !== undefined) agentPort++;
    }
  }

  /** Runs gracectl against this system; rejects with its stderr on failure. */
  gracectl(args: string[]): Promise<string> {
    const main = appMain(APPS.gracectl, this.options.root);
    return new Promise((resolvePromise, reject) => {
      const child = spawn(process.execPath, [main, ...args], { env: { ...process.env, ...this.commonEnv() }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolvePromise(out) : reject(new Error(`gracectl ${args.join(' ')} exited ${code}: ${err.trim() || out.trim()}`))));
    });
  }

  /** Restarts one service (asked to stop with `reason`, or sent `signal`) and waits until it is ready again. */
  async restart(service: RunningService, signal: NodeJS.Signals | 'stop' = 'stop', reason = 'restart'): Promise<void> {
    if (signal === 'stop') await service.process.stop(reason);
    else await service.process.kill(signal);
    await this.startAndWait(service);
  }

  /** Stops the agents first, then the registry and the coordinator, each told `reason`; how each ended. Idempotent. */
  async stop(reason = 'the system is stopping'): Promise<{ name: string; status: ExitStatus }[]> {
    this.stopping = true;
    const order = [...this.agents, ...this.services.filter((s) => s.kind !== 'agent').reverse()];
    const stopped = (s: RunningService) => s.process.stop(reason).then((status) => ({ name: s.name, status }));
    const ended = await Promise.all(order.filter((s) => s.kind === 'agent').map(stopped));
    for (const s of order.filter((x) => x.kind !== 'agent')) ended.push(await stopped(s));
    return ended;
  }

  info(): (ServiceInfo & { pid?: number })[] {
    return this.services.map(({ process, ...rest }) => ({ ...rest, pid: process.pid }));
  }

  private async launch(spec: {
    kind: ServiceKind; name: string; app: string; adminPort: number; root: string; node?: string;
    env?: Record<string, string>; jsonSocket?: string; cldSocket?: string; endGraceFile?: string;
  }): Promise<void> {
    const o = this.options;
    const main = appMain(spec.app, spec.root);
    if (!existsSync(main)) {
      const why = `${spec.name}: ${relative(process.cwd(), main)} is missing (run "npm run build"; is apps/${spec.app} there?)`;
      if (!o.skipMissing) throw new Error(why);
      o.log(`${why}: running without it`);
      return;
    }
    const logFile = join(o.runDir, 'logs', `${spec.name.replace(/\s+/g, '-')}.log`);
    mkdirSync(join(o.runDir, 'logs'), { recursive: true });
    const env: Record<string, string> = {
      ...this.commonEnv(),
      GK_ADMIN_PORT: String(spec.adminPort),
      GK_ADMIN_HOST: '127.0.0.1',
      GK_ADMIN_TOKEN: o.adminToken,
      ...(spec.env ?? {}),
    };
    if (spec.kind === 'agent') {
      env.GK_NODE = spec.node!;
      env.GK_JSON_SOCKET = spec.jsonSocket!;
      env.GK_CLD_SOCKET = spec.cldSocket!;
      env.GK_END_GRACE_FILE = spec.endGraceFile!;
      if (o.agentsServeAll) env.GK_IDENTITIES = [spec.node!, ...o.nodes.filter((n) => n !== spec.node)].join(',');
    }
    const adminUrl = `http://127.0.0.1:${spec.adminPort}`;
    const service: RunningService = {
      name: spec.name, kind: spec.kind, ...(spec.node ? { node: spec.node } : {}),
      adminPort: spec.adminPort, adminUrl, docsUrl: `${adminUrl}/docs`,
      ...(spec.jsonSocket ? { jsonSocket: spec.jsonSocket, cldSocket: spec.cldSocket, endGraceFile: spec.endGraceFile } : {}),
      logFile,
      process: new ManagedProcess({ name: spec.name, main, env, logFile }),
    };
    service.process.onUnexpectedExit = (status) => {
      if (!this.stopping) o.onUnexpectedExit?.(service, status);
    };
    this.services.push(service);
    writeFileSync(logFile, ''); // a fresh log per run; restarts append
    await this.startAndWait(service);
  }

  private async startAndWait(service: RunningService): Promise<void> {
    const timeoutMs = this.options.readyTimeoutMs ?? 60_000;
    service.process.start();
    let exit: ExitStatus | undefined;
    void service.process.exited.then((status) => (exit = status));
    const died = () => {
      if (exit === undefined) return undefined;
      if (this.stopping) return `stopped while starting (${describeExit(exit)})`;
      return `${describeExit(exit)} while starting. Its last records (${service.logFile}):\n${lastRecordsText(service.name, service.logFile)}`;
    };
    await waitUntil(`${service.name} (health at ${service.adminUrl}/health)`, () => httpOk(`${service.adminUrl}/health`), timeoutMs, 100, died);
    if (service.jsonSocket) {
      const socket = service.jsonSocket;
      await waitUntil(`${service.name} (JSON socket ${socket})`, async () => {
        const client = await AgentClient.connect(socket, { defaultTimeoutMs: 2000, connectTimeoutMs: 0 });
        try {
          return (await client.request('hello')).status === 'OK';
        } finally {
          client.close();
        }
      }, timeoutMs, 100, died);
    }
  }
}

/** Whether 127.0.0.1:`port` can be bound right now (a port in TIME_WAIT or held by a listener cannot). */
async function bindable(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const server = createServer();
    server.once('error', () => resolvePromise(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePromise(true)));
  });
}
