/** The system the demo runs against: the one `npm start` is running, or one it starts itself. */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { AgentClient } from '#agent-client';
import { randomToken } from '#infra';
import { red } from './demo-output';
import { processAlive } from './processes';
import { type RunState, STATE_FILE } from './start';
import { appMain, APPS, ensureDatabase, ensureInfra, Infra, REPO_ROOT, System } from './system';


export interface Target {
  natsUrl: string;
  prefix: string;
  cluster: string;
  nodes: string[];
  agents: Map<string, { socket: string; endGraceFile?: string }>;
  /** Set when the demo started the system itself. */
  stop?: () => Promise<void>;
}

export async function findOrStart(): Promise<Target> {
  if (existsSync(STATE_FILE)) {
    const state = JSON.parse(readFileSync(STATE_FILE, 'utf8')) as RunState;
    const agents = new Map(state.services.filter((s) => s.kind === 'agent' && s.jsonSocket).map((s) => [s.node!, { socket: s.jsonSocket!, endGraceFile: s.endGraceFile }]));
    if (processAlive(state.pid) && (await reachable(agents))) {
      process.stdout.write(`Using the system npm start is running (pid ${state.pid}; ${relative(process.cwd(), STATE_FILE)}).\n`);
      return { natsUrl: state.natsUrl, prefix: state.prefix, cluster: state.cluster, nodes: state.nodes, agents };
    }
    process.stdout.write(`${relative(process.cwd(), STATE_FILE)} is stale (npm start is not running there any more).\n`);
  }
  process.stdout.write('No running system found: starting one as npm start does (stopped again at the end)…\n');
  const infra: Infra = await ensureInfra((m) => process.stdout.write(`  · ${m}\n`));
  const system = new System({
    natsUrl: infra.natsUrl,
    databaseUrl: await ensureDatabase(infra.postgresUrl, 'gracekeeper'),
    prefix: 'gk',
    cluster: 'default',
    nodes: ['a', 'b', 'c'],
    runDir: join(REPO_ROOT, '.tmp', 'demo-run'),
    adminToken: randomToken(16),
    log: (m) => process.stdout.write(`  · ${m}\n`),
    agentsServeAll: true,
    skipMissing: true,
    onUnexpectedExit: (s, status) => process.stdout.write(red(`\n✗ ${s.name} exited (${String(status)}) during the demo; see ${s.logFile}\n`)),
  });
  const stop = async () => {
    await system.stop();
    await infra.stop();
  };
  try {
    await system.start();
  } catch (err) {
    await stop();
    throw err;
  }
  const agents = new Map(system.agents.map((a) => [a.node!, { socket: a.jsonSocket!, endGraceFile: a.endGraceFile }]));
  return { natsUrl: infra.natsUrl, prefix: 'gk', cluster: 'default', nodes: ['a', 'b', 'c'], agents, stop };
}

async function reachable(agents: Map<string, { socket: string }>): Promise<boolean> {
  if (agents.size === 0) return false;
  for (const { socket } of agents.values()) {
    try {
      const client = await AgentClient.connect(socket, { defaultTimeoutMs: 2000, connectTimeoutMs: 0 });
      const ok = (await client.request('hello')).status === 'OK';
      client.close();
      if (!ok) return false;
    } catch {
      return false;
    }
  }
  return true;
}

export /** gracectl's output (stdout and stderr) against the demo's system. */
function gracectl(target: Target, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [appMain(APPS.gracectl), ...args], {
      env: { ...process.env, NATS_URL: target.natsUrl, GK_PREFIX: target.prefix, GK_CLUSTER: target.cluster },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', () => resolve(out));
  });
}
