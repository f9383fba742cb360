import { jetstreamManager, type MsgRequest } from '@nats-io/jetstream';
import { DecisionMessage, GraceConfig, StreamNames, subjects } from '#contracts';
import { executeOnce, loadCluster, openGraceStore, OpenedStore } from '#cluster-store';
import { AdminCommand, ClusterState, dumpText } from '#domain';
import type { AgentApi } from '#agent-client';
import { AgentHandle, AgentSpec, InProcessAgent, ProcessAgent } from './agents';
import { CoordinatorHandle, CoordinatorProcess, InProcessCoordinator } from './coordinator';
import { checkRun, formatViolations, Violation } from './checker';
import { sleep, Ticker } from './clock';
import { Dlm } from './dlm';
import { SimNfsClient } from './nfs-client';
import { SimNfsServer } from './nfs-server';
import { Observations } from './observations';

export type AgentKind = 'process' | 'in-process';

export interface SimClusterOptions {
  natsUrl: string;
  names: StreamNames;
  cluster: string;
  nodes: string[];
  agents: AgentKind;
  config?: Partial<GraceConfig>;
  /** Each server's own grace time (after which it calls `grace_done` without waiting for clients). */
  localGraceMs?: number;
  /**
   * Who ends grace at its deadline: the grace-coordinator as a `process` (default with process
   * agents), its core `in-process` (default with in-process agents), or `none` (deadlines never fire).
   */
  coordinator?: 'process' | 'in-process' | 'none';
  /** The agents' request timeout (`--request-timeout-ms`): how soon a cut-off agent says "retry later". */
  agentRequestTimeoutMs?: number;
  /** How long a simulated server waits for one agent request before answering its client NFS4ERR_DELAY (ServerOptions). */
  agentAskTimeoutMs?: number;
  /** Interposes on every server's agent requests (e.g. a deliberately broken agent, to test the checker). */
  wrapAgent?: (node: string, api: AgentApi) => AgentApi;
  /** Whether every agent may serve every member identity after a move (failover scenarios); default: its own only. */
  agentsServeAll?: boolean;
  /** The agents' heartbeat interval (dead-host detection); default: the agent's own. */
  heartbeatMs?: number;
}

/**
 * N simulated NFS servers, each with its own node-agent (a process or in-process), clients on
 * them, one DLM, one observation log; fault injection; and `check()` over what was observed and
 * what the event log holds.
 */
export class SimCluster {
  readonly ticker = new Ticker();
  readonly obs = new Observations(this.ticker);
  readonly dlm = new Dlm();
  readonly servers = new Map<string, SimNfsServer>();
  readonly agents = new Map<string, AgentHandle>();
  readonly clients: SimNfsClient[] = [];
  coordinator?: CoordinatorHandle;
  private clientSerial = 0;
  /** Failures of background work (a server's grace_done, the deadline driver), reported by `check`. */
  readonly backgroundErrors: string[] = [];

  private constructor(readonly options: SimClusterOptions, readonly admin: OpenedStore) {}

  /** Creates the cluster in the log (`add` with the configuration), then its agents and servers (all down). */
  static async create(options: SimClusterOptions): Promise<SimCluster> {
    const admin = await openGraceStore({ natsUrl: options.natsUrl, names: options.names, name: 'sim-admin' });
    const sim = new SimCluster(options, admin);
    try {
      await sim.adminCommand({ type: 'add', nodes: options.nodes, config: options.config });
      if (options.config) await sim.adminCommand({ type: 'configure', config: options.config });
      await Promise.all(options.nodes.map((node) => sim.addAgent(node)));
      for (const node of options.nodes) {
        const api = () => (options.wrapAgent ? options.wrapAgent(node, sim.agent(node).api()) : sim.agent(node).api());
        sim.servers.set(node, new SimNfsServer(node, api, sim.dlm, sim.obs, {
          localGraceMs: options.localGraceMs ?? 60_000,
          agentAskTimeoutMs: options.agentAskTimeoutMs,
          onError: (m) => sim.backgroundErrors.push(m),
        }));
      }
      const coordinator = options.coordinator ?? (options.agents === 'process' ? 'process' : 'in-process');
      if (coordinator === 'process') sim.coordinator = await CoordinatorProcess.create({ natsUrl: options.natsUrl, names: options.names, clusters: [options.cluster] });
      if (coordinator === 'in-process') sim.coordinator = await InProcessCoordinator.create({ natsUrl: options.natsUrl, names: options.names, cluster: options.cluster });
    } catch (err) {
      await sim.close();
      throw err;
    }
    return sim;
  }

  private async addAgent(node: string): Promise<void> {
    const identities = this.options.agentsServeAll ? [node, ...this.options.nodes.filter((n) => n !== node)] : undefined;
    const spec: AgentSpec = {
      cluster: this.options.cluster, node, identities, natsUrl: this.options.natsUrl, names: this.options.names, requestTimeoutMs: this.options.agentRequestTimeoutMs, heartbeatMs: this.options.heartbeatMs,
    };
    this.agents.set(node, this.options.agents === 'process' ? await ProcessAgent.create(spec) : await InProcessAgent.create(spec));
  }

  agent(node: string): AgentHandle {
    const a = this.agents.get(node);
    if (!a) throw new Error(`no agent for ${node}`);
    return a;
  }

  server(node: string): SimNfsServer {
    const s = this.servers.get(node);
    if (!s) throw new Error(`no server ${node}`);
    return s;
  }

  /** A new client of `node` (not yet connected). Ids are lowercase hex owner strings. */
  addClient(node: string, options: { hasSession?: boolean; id?: string } = {}): SimNfsClient {
    const serial = ++this.clientSerial;
    const id = options.id ?? Buffer.from(`sim-client-${this.options.cluster}-${serial}`).toString('hex');
    const client = new SimNfsClient(id, options.hasSession ?? true, this.server(node), this.obs);
    this.clients.push(client);
    return client;
  }

  clientsOf(node: string): SimNfsClient[] {
    return this.clients.filter((c) => c.server.name === node);
  }

  // ---- faults and operator actions ----

  /** Starts every listed server concurrently (cold start or cluster-wide restart after `crash`). */
  async startServers(nodes = [...this.servers.keys()]): Promise<void> {
    this.obs.fault(`start ${nodes.join(',')}`);
    await Promise.all(nodes.map((n) => this.server(n).start()));
  }

  crashServer(node: string): void {
    this.obs.fault(`crash ${node}`);
    this.server(node).crash();
    for (const c of this.clientsOf(node)) c.loseContact();
  }

  async restartServer(node: string): Promise<void> {
    this.crashServer(node);
    await this.startServers([node]);
  }

  async restartCluster(): Promise<void> {
    for (const node of this.servers.keys()) this.crashServer(node);
    await this.startServers();
  }

  /**
   * The operator removes a node that will never come back (`gracectl remove`), fenced first as an
   * operator must: its server is down and its agent stopped (and left down), so no request the
   * node still had on its way (a grace_start would add it back with NEED) is decided afterwards.
   */
  async removeNode(node: string): Promise<void> {
    this.obs.fault(`remove ${node}`);
    // The operator fences the node first (its NFS server is down). Its agent is not killed: with
    // failover it may serve other identities, and a grace_start of the removed node still on its
    // way is refused by the agent (a non-member does not join without --auto-join; seed 777610).
    if (this.server(node).state !== 'down') this.crashServer(node);
    const r = await this.adminCommand({ type: 'remove', nodes: [node] });
    if (!r.ok) throw new Error(`remove ${node}: ${r.rejection.message}`);
    this.server(node).markRemoved();
  }

  partitionClient(client: SimNfsClient): void {
    this.obs.fault(`partition ${client.id}`);
    client.partition();
  }

  healClient(client: SimNfsClient): void {
    this.obs.fault(`heal ${client.id}`);
    client.heal();
  }

  /** The partitioned client's lease ran out at its server: the record goes, then its locks. */
  async expireClient(client: SimNfsClient): Promise<void> {
    if (!client.partitioned) throw new Error('only a partitioned client can be expired');
    this.obs.fault(`expire ${client.id}`);
    await client.server.expireClient(client.id);
  }

  async killAgent(node: string): Promise<void> {
    this.obs.fault(`kill -9 agent ${node}`);
    await this.agent(node).kill();
  }

  /**
   * Host `host` dies without a word (power loss, kernel panic): every server running there crashes
   * and its agent is killed, so its heartbeats just stop. Only the coordinator's dead-host
   * detection can tell (SPEC §2 liveness). Its agent comes back with `startAgent`.
   */
  async hostDiesSilently(host: string): Promise<void> {
    this.obs.fault(`host ${host} dies silently`);
    for (const [identity, server] of this.servers) if ((server.options.host ?? identity) === host && server.state !== 'down') this.crashServer(identity);
    await this.agent(host).kill();
  }

  async startAgent(node: string): Promise<void> {
    this.obs.fault(`start agent ${node}`);
    await this.agent(node).start();
  }

  cutNats(node: string, mode: 'refuse' | 'blackhole' = 'refuse'): void {
    this.obs.fault(`cut NATS of ${node} (${mode})`);
    this.agent(node).nats.cut(mode);
  }

  restoreNats(node: string): void {
    this.obs.fault(`restore NATS of ${node}`);
    this.agent(node).nats.restore();
  }

  // ---- the log ----

  adminCommand(command: AdminCommand) {
    return executeOnce(this.admin.store, this.options.names, this.options.cluster, command, { actor: 'gracectl:sim' });
  }

  async state(): Promise<ClusterState> {
    return (await loadCluster(this.admin.store, this.options.names, this.options.cluster)).state;
  }

  async dump(): Promise<string> {
    return dumpText(await this.state());
  }

  async log(): Promise<DecisionMessage[]> {
    return (await this.readLog()).messages.map((m) => m.message);
  }

  /** The cluster subject as the store reads it, malformed (and stale-append) messages apart. */
  readLog() {
    return this.admin.store.readStream(subjects.cluster(this.options.names, this.options.cluster));
  }

  /** The cluster subject's stream sequences, one `next_by_subj` get at a time (independent of `read`). */
  async sequencesByGets(): Promise<number[]> {
    const jsm = await jetstreamManager(this.admin.nc);
    const subject = subjects.cluster(this.options.names, this.options.cluster);
    const found: number[] = [];
    for (let next = 1; ;) {
      let m;
      try {
        m = await jsm.streams.getMessage(this.options.names.stream, { next_by_subj: subject, seq: next } as unknown as MsgRequest);
      } catch (err) {
        if (/no message found/i.test(String((err as Error).message))) break;
        throw err;
      }
      if (!m) break;
      found.push(m.seq);
      next = m.seq + 1;
    }
    return found;
  }

  /** Polls the log until `pred` holds (for waiting on background work, not for timing). */
  async waitForState(pred: (s: ClusterState) => boolean, what: string, timeoutMs = 30_000): Promise<ClusterState> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.state();
      if (pred(s)) return s;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; log says:\n${dumpText(s)}`);
      await sleep(25);
    }
  }

  /**
   * Waits until the log says the grace period ended, then until every reachable agent of a member
   * has seen it. The log decides; agents follow it within milliseconds, and until they do they
   * answer `may_grant` with NFS4ERR_GRACE (safe, and a real client retries). A test that next acts
   * through an agent must not race that catch-up.
   */
  async waitForGraceEnd(timeoutMs = 30_000): Promise<ClusterState> {
    const deadline = Date.now() + timeoutMs;
    const ended = await this.waitForState((s) => s.recoveryEpoch === 0, 'the grace period to end', timeoutMs);
    for (const [node, agent] of this.agents) {
      if (!ended.members.has(node) || !agent.running || agent.nats.isCut) continue;
      for (;;) {
        const hello = await agent.api().request('hello', {}, { timeoutMs: 2000 }).catch(() => undefined);
        const epoch = Number(hello?.epoch ?? 0);
        if (hello?.status === 'OK' && (epoch > ended.epoch || (epoch === ended.epoch && hello.inGrace === false))) break;
        if (Date.now() > deadline) throw new Error(`agent ${node} did not see the grace period end within ${timeoutMs} ms (it says ${JSON.stringify(hello)}); log says:\n${dumpText(ended)}`);
        await sleep(10);
      }
    }
    return ended;
  }

  /** Every check of SPEC §2 and of the clients' beliefs over this run so far. */
  async check(): Promise<Violation[]> {
    const read = await this.readLog();
    const violations = checkRun({ observations: this.obs, log: read.messages.map((m) => m.message), graceTimeMs: this.options.config?.graceTimeMs ?? 90_000, dlm: this.dlm });
    // The store's read is what every check above stands on: confirm it against single gets.
    // (Agents may still write while this runs: compare up to the sequence the read aimed at.)
    const independent = (await this.sequencesByGets()).filter((q) => q <= read.version);
    const read_ = [...read.messages.map((m) => m.sequence), ...read.malformed.map((m) => m.sequence)].sort((x, y) => x - y);
    if (independent.join(',') !== read_.join(',')) {
      const missing = independent.filter((q) => !read_.includes(q));
      violations.push({ check: 'log-read', message: `the store's read returned ${read_.length} messages, single gets find ${independent.length} (missing sequences ${missing.slice(0, 20).join(', ')})` });
    }
    // Nothing the agents or the simulator write may be unreadable or judged a stale append.
    for (const m of read.malformed) violations.push({ check: 'log-malformed', message: `seq ${m.sequence}: ${m.error.kind}: ${m.error.message}: ${Buffer.from(m.raw).toString('utf8').slice(0, 300)}` });
    for (const e of this.backgroundErrors) violations.push({ check: 'background', message: e });
    return violations;
  }

  async assertClean(): Promise<void> {
    const violations = await this.check();
    if (violations.length > 0) throw new Error(`${violations.length} violation(s):\n${formatViolations(violations)}\n--- last observations ---\n${this.obs.tail()}`);
  }

  async close(): Promise<void> {
    await this.coordinator?.stop().catch(() => undefined);
    for (const s of this.servers.values()) s.crash();
    await Promise.all([...this.agents.values()].map((a) => a.stop().catch(() => undefined)));
    await this.admin.close();
  }
}
