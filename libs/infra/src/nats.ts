// Longer than 300 lines on purpose: finding, starting and clustering nats-server for tests and `npm start` share one configuration writer and one readiness check.
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '#cluster-store';
import { natsServers } from '#contracts';
import { Child, spawnChild } from './child';
import { errorMessage, Log, redactUrl, silent } from './log';
import { randomToken } from './names';
import { freePort, sleep } from './ports';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

export interface EnsureOptions {
  /** Where the service lives; falls back to the environment, then to a local default. */
  url?: string;
  /** Where to look when nothing is configured, before starting a private server. */
  localUrl?: string;
  log?: Log;
}

/** A service found or started by infra. `stop` only stops what infra itself started. */
export interface ServiceHandle {
  readonly url: string;
  /** True when infra spawned the server (it goes away on `stop`). */
  readonly started: boolean;
  stop(): Promise<void>;
}

export { natsServers };

/** Throws unless `url` accepts a NATS connection with JetStream enabled. */
export async function checkNats(url: string, timeoutMs = 5000): Promise<void> {
  const nc = await connectNats(url, process.env, { timeout: timeoutMs, reconnect: false, name: 'gracekeeper-infra-check' });
  try {
    const jsm = await jetstreamManager(nc, { timeout: timeoutMs });
    await jsm.getAccountInfo();
  } finally {
    await nc.close();
  }
}

/**
 * NATS for `npm start`, tests and benchmarks: the configured server (option or `NATS_URL`), else
 * the local default, else a private nats-server on a free port with a temporary store.
 */
export async function ensureNats(options: EnsureOptions = {}): Promise<ServiceHandle> {
  const log = options.log ?? silent;
  const configured = options.url ?? process.env.NATS_URL;
  if (configured) {
    const source = options.url ? 'the url option' : 'NATS_URL';
    try {
      await checkNats(configured);
    } catch (err) {
      throw new Error(
        `NATS at ${redactUrl(configured)} (from ${source}) is not usable: ${errorMessage(err)}. ` +
          `It must accept connections and have JetStream enabled (nats-server -js). ` +
          `Fix ${source}, or leave it unset to use ${DEFAULT_NATS_URL} or a nats-server started on demand.`,
      );
    }
    log(`NATS: using ${redactUrl(configured)} (from ${source})`);
    return { url: configured, started: false, stop: async () => undefined };
  }

  const local = options.localUrl ?? DEFAULT_NATS_URL;
  try {
    await checkNats(local, 2000);
    log(`NATS: using ${redactUrl(local)}`);
    return { url: local, started: false, stop: async () => undefined };
  } catch (err) {
    log(`NATS: nothing usable at ${redactUrl(local)} (${errorMessage(err)}); starting a private nats-server`);
  }

  const server = await startNatsServer({ log });
  try {
    await waitForJetStream(server.url);
  } catch (err) {
    await server.stop();
    throw err;
  }
  log(`NATS: started nats-server ${server.url} (pid ${server.pid}, store ${server.storeDir})`);
  return { url: server.url, started: true, stop: () => server.stop() };
}

/** The nats-server binary on PATH or in the usual system directories, or undefined. */
export function findNatsServer(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/local/bin'];
  for (const dir of dirs.filter(Boolean)) {
    const candidate = join(dir, 'nats-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

export interface NatsServerOptions {
  /** Client port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** JetStream store; a temporary directory (removed on `stop`) when omitted. */
  storeDir?: string;
  /** Must be unique within a JetStream cluster. */
  serverName?: string;
  /** Set (or set `routes`) to run as one node of a cluster. */
  clusterName?: string;
  /** Route port on 127.0.0.1; a free one when clustering and omitted. */
  clusterPort?: number;
  /** Route URLs of the other nodes, e.g. `nats-route://127.0.0.1:6222`; own route is ignored by nats-server. */
  routes?: string[];
  log?: Log;
  /** How long to wait for "Server is ready". */
  readyTimeoutMs?: number;
  /** Appended to the generated configuration (e.g. deploy/nats/permissions.conf's accounts). */
  extraConfig?: string;
  /** Extra environment of the server process (variables the extra configuration refers to). */
  env?: Record<string, string>;
}

/** A nats-server this process spawned. Tests may kill, pause (SIGSTOP) and restart it. */
export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** Changes on `restart`. */
  readonly pid: number;
  readonly serverName: string;
  readonly storeDir: string;
  readonly clusterPort: number | undefined;
  /** Route URL other cluster nodes use to reach this one. */
  readonly routeUrl: string | undefined;
  isRunning(): boolean;
  /** Last lines of the server's log, for failure messages. */
  output(): string;
  /**
   * Sends a signal. For SIGKILL (the default), SIGTERM, SIGINT and SIGQUIT resolves once the
   * process is gone; SIGSTOP/SIGCONT freeze and thaw it to simulate a hung server or a partition;
   * SIGHUP makes nats-server reload its configuration.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port, store and cluster routes after `kill`. */
  restart(): Promise<void>;
  /** Stops the server and removes whatever temporary files it created. Idempotent. */
  stop(): Promise<void>;
}

const STOPPING_SIGNALS = new Set<NodeJS.Signals>(['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGQUIT']);

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = findNatsServer();
  if (!binary) {
    throw new Error(
      'nats-server not found on PATH or in /usr/sbin. Install it (Debian/Ubuntu: apt-get install -y nats-server) ' +
        'or set NATS_URL to a running nats-server with JetStream enabled.',
    );
  }
  const log = options.log ?? silent;
  const clustered = options.clusterName !== undefined || (options.routes?.length ?? 0) > 0;
  const serverName = options.serverName ?? `gk_${randomToken()}`;
  const workDir = await mkdtemp(join(tmpdir(), 'gk-nats-'));
  const storeDir = options.storeDir ?? join(workDir, 'store');
  const configFile = join(workDir, 'nats.conf');
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;

  let child: Child | undefined;
  const launch = async (port: number) => {
    child = spawnChild(binary, ['-c', configFile], options.env ? { env: { ...process.env, ...options.env } } : {});
    await child.waitForLine(/Server is ready/, readyTimeoutMs, `nats-server on port ${port}`).catch(async (err: unknown) => {
      await child?.terminate(1000);
      throw err;
    });
  };

  // A port that freePort() saw free can be taken by a parallel test before nats-server binds it:
  // then pick new ports, unless the caller chose them.
  let port = 0;
  let clusterPort: number | undefined;
  for (let attempt = 1; ; attempt++) {
    port = options.port ?? (await freePort());
    clusterPort = clustered ? (options.clusterPort ?? (await freePort())) : undefined;
    const cluster = clusterPort ? { name: options.clusterName ?? 'gk', port: clusterPort, routes: options.routes ?? [] } : undefined;
    await writeFile(configFile, natsConfig({ port, serverName, storeDir, cluster }) + (options.extraConfig ? `\n${options.extraConfig}\n` : ''));
    try {
      await launch(port);
      break;
    } catch (err) {
      const canRepick = options.port === undefined || (clustered && options.clusterPort === undefined);
      if (attempt < 3 && canRepick && /address already in use/i.test(errorMessage(err))) continue;
      await rm(workDir, { recursive: true, force: true });
      throw err;
    }
  }
  log(`nats-server ${serverName} listening on 127.0.0.1:${port}${clusterPort ? ` (routes on ${clusterPort})` : ''}`);

  let stopped = false;
  const running = () => child?.isRunning() ?? false;
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.process.pid ?? -1;
    },
    serverName,
    storeDir,
    clusterPort,
    routeUrl: clusterPort ? `nats-route://127.0.0.1:${clusterPort}` : undefined,
    isRunning: running,
    output: () => child?.output() ?? '',
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (!child || !running()) return;
      child.process.kill(signal);
      if (!STOPPING_SIGNALS.has(signal)) return;
      // A paused server only acts on a terminating signal once it runs again.
      if (signal !== 'SIGKILL') child.process.kill('SIGCONT');
      await child.exited;
    },
    async restart() {
      if (stopped) throw new Error(`nats-server ${serverName} was stopped; start a new one`);
      if (running()) throw new Error(`nats-server ${serverName} is still running; kill it first`);
      await launch(port);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await child?.terminate();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

interface ConfigInput {
  port: number;
  serverName: string;
  storeDir: string;
  cluster?: { name: string; port: number; routes: string[] };
}

// JSON string literals are valid quoted strings in the nats-server config syntax.
function natsConfig({ port, serverName, storeDir, cluster }: ConfigInput): string {
  const q = (value: string) => JSON.stringify(value);
  const lines = [
    '# generated by libs/infra startNatsServer',
    `server_name: ${q(serverName)}`,
    `listen: ${q(`127.0.0.1:${port}`)}`,
    `jetstream {`,
    `  store_dir: ${q(storeDir)}`,
    `}`,
  ];
  if (cluster) {
    lines.push(
      `cluster {`,
      `  name: ${q(cluster.name)}`,
      `  listen: ${q(`127.0.0.1:${cluster.port}`)}`,
      `  routes: [${cluster.routes.map(q).join(', ')}]`,
      `}`,
    );
  }
  return lines.join('\n') + '\n';
}

/**
 * Waits until JetStream answers at `url`. A clustered server accepts clients before its JetStream
 * meta group has a leader, and streams cannot be created until it has one.
 */
export async function waitForJetStream(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await checkNats(url, 2000);
      return;
    } catch (err) {
      last = err;
      await sleep(200);
    }
  }
  throw new Error(`JetStream at ${redactUrl(url)} not ready after ${timeoutMs} ms: ${errorMessage(last)}`);
}

export interface NatsCluster {
  readonly servers: NatsServer[];
  /** Every node's client URL, comma-separated, as `NATS_URL` and `natsServers()` accept it. */
  readonly url: string;
  stop(): Promise<void>;
}

/** A JetStream cluster of `size` nodes on loopback, each with its own ports and store. */
export async function startNatsCluster(options: { size?: number; clusterName?: string; log?: Log } = {}): Promise<NatsCluster> {
  const size = options.size ?? 3;
  const clusterName = options.clusterName ?? `gk_${randomToken()}`;
  const clusterPorts: number[] = [];
  while (clusterPorts.length < size) {
    const port = await freePort();
    if (!clusterPorts.includes(port)) clusterPorts.push(port);
  }
  const routes = clusterPorts.map((p) => `nats-route://127.0.0.1:${p}`);
  const started = await Promise.allSettled(
    clusterPorts.map((clusterPort, i) =>
      startNatsServer({ clusterName, clusterPort, routes, serverName: `${clusterName}_n${i + 1}`, log: options.log }),
    ),
  );
  const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  try {
    await Promise.all(servers.map((s) => waitForJetStream(s.url)));
  } catch (err) {
    await stop();
    throw err;
  }
  return { servers, url: servers.map((s) => s.url).join(','), stop };
}
