import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StreamNames } from '#contracts';
import { Child, spawnChild } from '../../libs/infra/src/child';
import { AgentCore } from '../../apps/node-agent/src/core/agent-core';
import { silentLog } from '../../apps/node-agent/src/core/log';
import { answer } from '../../apps/node-agent/src/transports/json-socket';
import { AgentApi, AgentClient, AgentUnavailable } from '#agent-client';
import type { AgentReply } from '#contracts';
import { NatsProxy } from './nats-proxy';

/** One node's agent as the simulator drives it: its API, and the faults it can suffer. */
export interface AgentHandle {
  readonly node: string;
  /** The API to use now (for a process: one pipelined socket client that redials after a restart). */
  api(): AgentApi;
  /** kill -9: gone at once, nothing flushed. */
  kill(): Promise<void>;
  /** Starts it again (after `kill`), resolving once it answers `hello`. */
  start(): Promise<void>;
  readonly running: boolean;
  /** Its own route to NATS, which the simulator can cut. */
  readonly nats: NatsProxy;
  /** Last lines of its output, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export interface AgentSpec {
  cluster: string;
  node: string;
  natsUrl: string;
  names: StreamNames;
  /** The agent's `--request-timeout-ms`: how long it waits for NATS before "retry later". */
  requestTimeoutMs?: number;
  /** The server identities it serves (`--identity`, primary first); default: the node alone. */
  identities?: string[];
  /** Its heartbeat interval (`--heartbeat-ms`); default: the agent's own (a process: 1000 ms; in-process: none). */
  heartbeatMs?: number;
}

/** Where `npm run build` puts the node-agent, and whether it is there. */
export const NODE_AGENT_MAIN = join(__dirname, '..', '..', 'dist', 'apps', 'node-agent', 'src', 'main.js');
export const nodeAgentBuilt = () => existsSync(NODE_AGENT_MAIN);

/**
 * A real `gk-node-agent` process: `node dist/apps/node-agent/src/main.js --cluster C --node N
 * --nats <its proxy> --prefix P --json-socket <dir>/agent.sock --admin-port 0`.
 */
export class ProcessAgent implements AgentHandle {
  private child?: Child;
  private readonly client: AgentClient;
  private lastOutput = '';

  private constructor(readonly spec: AgentSpec, readonly nats: NatsProxy, readonly dir: string, private readonly main: string) {
    this.client = new AgentClient(this.socketPath, { connectTimeoutMs: 200, defaultTimeoutMs: 20_000 });
  }

  static async create(spec: AgentSpec, main = NODE_AGENT_MAIN): Promise<ProcessAgent> {
    const nats = await NatsProxy.start(spec.natsUrl);
    const dir = await mkdtemp(join(tmpdir(), `gk-sim-${spec.node}-`));
    const agent = new ProcessAgent(spec, nats, dir, main);
    await agent.start();
    return agent;
  }

  get node(): string {
    return this.spec.node;
  }

  get socketPath(): string {
    return join(this.dir, 'agent.sock');
  }

  get running(): boolean {
    return this.child?.isRunning() ?? false;
  }

  api(): AgentApi {
    return this.client;
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`agent ${this.node} is running`);
    const args = [
      this.main,
      '--cluster', this.spec.cluster,
      '--node', this.spec.node,
      ...(this.spec.identities ?? []).flatMap((identity) => ['--identity', identity]),
      '--nats', this.nats.url,
      '--prefix', this.spec.names.prefix,
      '--json-socket', this.socketPath,
      '--admin-port', '0',
      '--end-grace-file', 'off',
      ...(this.spec.requestTimeoutMs ? ['--request-timeout-ms', String(this.spec.requestTimeoutMs)] : []),
      ...(this.spec.heartbeatMs ? ['--heartbeat-ms', String(this.spec.heartbeatMs)] : []),
    ];
    this.child = spawnChild(process.execPath, args, { env: { ...process.env, GK_LOG_LEVEL: process.env.GK_LOG_LEVEL ?? 'warn' } });
    const child = this.child;
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const hello = await this.client.request('hello', {}, { timeoutMs: 2000 });
        if (hello.status === 'OK') return;
      } catch (err) {
        if (!(err instanceof AgentUnavailable)) throw err;
      }
      if (!child.isRunning()) throw new Error(`agent ${this.node} exited while starting:\n${child.output()}`);
      if (Date.now() > deadline) throw new Error(`agent ${this.node} did not answer hello within 30 s:\n${child.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child?.isRunning()) return;
    child.process.kill('SIGKILL');
    await child.exited;
    this.lastOutput = child.output();
  }

  output(): string {
    return this.child?.output() ?? this.lastOutput;
  }

  async stop(): Promise<void> {
    await this.client.close();
    await this.child?.terminate(3000);
    await this.nats.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * The node-agent's own core (`AgentCore` from apps/node-agent: live view, group commit, the one
 * `AgentService` behind every interface) run inside the simulator's process, each request going
 * through the JSON API's own parsing (`answer`). It has its own NATS connection through its own
 * proxy, so cutting NATS behaves as for a process; `kill` drops that connection without draining
 * and discards whatever the killed core still answers. Used where hundreds of short runs would
 * spend their time starting processes.
 */
export class InProcessAgent implements AgentHandle {
  private core?: AgentCore;
  private nextId = 1;
  /** Requests in flight: a kill fails them at once, as a closed socket would. */
  private readonly inFlight = new Set<(err: Error) => void>();
  private stopped = false;

  private constructor(readonly spec: AgentSpec, readonly nats: NatsProxy) {}

  static async create(spec: AgentSpec): Promise<InProcessAgent> {
    const nats = await NatsProxy.start(spec.natsUrl);
    const handle = new InProcessAgent(spec, nats);
    await handle.start();
    return handle;
  }

  get node(): string {
    return this.spec.node;
  }

  get running(): boolean {
    return this.core !== undefined;
  }

  api(): AgentApi {
    return {
      request: async (op, fields = {}, options) => {
        const core = this.core;
        if (!core) throw new AgentUnavailable(`agent ${this.node} is down`);
        const timeoutMs = options?.timeoutMs ?? 20_000;
        let timer: NodeJS.Timeout | undefined;
        let abort!: (err: Error) => void;
        const timeout = new Promise<never>((_, reject) => {
          abort = reject;
          timer = setTimeout(() => reject(new AgentUnavailable(`${op}: no reply from in-process agent ${this.node} within ${timeoutMs} ms`)), timeoutMs);
        });
        this.inFlight.add(abort);
        try {
          const line = JSON.stringify({ ...fields, id: this.nextId++, op });
          const reply = (await Promise.race([answer(line, core.service, silentLog), timeout])) as AgentReply;
          if (this.core !== core) throw new AgentUnavailable(`agent ${this.node} was killed before it answered`);
          return reply;
        } finally {
          clearTimeout(timer);
          this.inFlight.delete(abort);
        }
      },
      close: async () => undefined,
    };
  }

  /** Like the process's main: keeps trying while NATS cannot be reached. */
  async start(): Promise<void> {
    if (this.core) throw new Error(`agent ${this.node} is running`);
    this.stopped = false;
    for (;;) {
      try {
        const core = await AgentCore.start({
          cluster: this.spec.cluster,
          node: this.spec.node,
          identities: this.spec.identities,
          natsUrl: this.nats.url,
          names: this.spec.names,
          requestTimeoutMs: this.spec.requestTimeoutMs ?? 1000,
          heartbeatMs: this.spec.heartbeatMs,
          log: silentLog,
        });
        if (this.stopped) {
          await core.opened.nc.close().catch(() => undefined);
          return;
        }
        this.core = core;
        return;
      } catch (err) {
        if (this.stopped) return;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async kill(): Promise<void> {
    const core = this.core;
    this.core = undefined;
    for (const abort of [...this.inFlight]) abort(new AgentUnavailable(`agent ${this.node} was killed`));
    if (!core) return;
    await core.opened.nc.close().catch(() => undefined);
    await core.view.close().catch(() => undefined);
  }

  output(): string {
    return '';
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.kill();
    await this.nats.close();
  }
}
