import { connect } from '@nats-io/transport-node';
import { GraceConfig } from '#contracts';
import { cleanupStream, testNatsUrl, testStreamNames } from '#testing';
import { AgentKind, SimCluster, SimClusterOptions } from './cluster';
import { ByteRange, LockType } from './dlm';
import { ClientStatus, SimNfsClient } from './nfs-client';

/**
 * Shared steps of the scenario suite (test/scenarios): a fresh stream and cluster per scenario,
 * a cold start that ends in one known state, clients holding locks, and the end-of-run check.
 */

export interface ScenarioOptions {
  nodes?: string[];
  config?: Partial<GraceConfig>;
  localGraceMs?: number;
  agents?: AgentKind;
  coordinator?: SimClusterOptions['coordinator'];
  agentsServeAll?: boolean;
  wrapAgent?: SimClusterOptions['wrapAgent'];
  heartbeatMs?: number;
}

/** Grace and lease long enough that nothing ends by a timer unless the scenario wants it. */
export const LONG: Partial<GraceConfig> = { graceTimeMs: 600_000, leaseTimeMs: 600_000 };

/** Runs `body` on a new cluster with its own stream, then checks the run and tears everything down. */
export async function scenario(label: string, options: ScenarioOptions, body: (sim: SimCluster) => Promise<void>): Promise<void> {
  const names = testStreamNames(label);
  const sim = await SimCluster.create({
    natsUrl: testNatsUrl(),
    names,
    cluster: label.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 60),
    nodes: options.nodes ?? ['a', 'b', 'c'],
    agents: options.agents ?? 'process',
    coordinator: options.coordinator,
    config: { ...LONG, ...options.config },
    localGraceMs: options.localGraceMs ?? 600_000,
    agentsServeAll: options.agentsServeAll,
    wrapAgent: options.wrapAgent,
    heartbeatMs: options.heartbeatMs,
  });
  try {
    await body(sim);
    await sim.assertClean();
  } catch (err) {
    const outputs = [...sim.agents.values()].map((a) => a.output() && `--- agent ${a.node} ---\n${a.output()}`).filter(Boolean).join('\n');
    if (outputs && err instanceof Error) err.message += `\n${outputs}`;
    throw err;
  } finally {
    await sim.close();
    const nc = await connect({ servers: testNatsUrl() });
    await cleanupStream(nc, names).finally(() => nc.close());
  }
}

/**
 * Cold start: every server starts (one grace period, the others join it) and only then do they
 * all call `grace_done`, so the cluster ends in `cur=2 rec=0` whatever the order of the starts.
 */
export async function coldStart(sim: SimCluster): Promise<void> {
  for (const s of sim.servers.values()) s.holdGraceDone = true;
  await sim.startServers();
  await releaseGraceDone(sim);
  await sim.waitForGraceEnd();
  await Promise.all([...sim.servers.values()].map((s) => s.graceDone));
}

export async function releaseGraceDone(sim: SimCluster, nodes = [...sim.servers.keys()]): Promise<void> {
  for (const n of nodes) sim.server(n).releaseGraceDone();
}

/** A connected client of `node` holding an open on `file` and one lock on it. */
export async function clientWithLock(sim: SimCluster, node: string, file: string, range: ByteRange, options: { type?: LockType; hasSession?: boolean } = {}): Promise<{ client: SimNfsClient; lineage: number }> {
  const client = sim.addClient(node, { hasSession: options.hasSession ?? true });
  expectStatus(await client.connect(), 'OK', 'connect');
  expectStatus(await client.open(file), 'OK', 'open');
  const r = await client.lock(file, range, options.type ?? 'write');
  expectStatus(r.status, 'OK', 'lock');
  return { client, lineage: r.lineage! };
}

/** A connected client of `node` with an open on `file`, no lock. */
export async function clientWithOpen(sim: SimCluster, node: string, file: string, hasSession = true): Promise<SimNfsClient> {
  const client = sim.addClient(node, { hasSession });
  expectStatus(await client.connect(), 'OK', 'connect');
  expectStatus(await client.open(file), 'OK', 'open');
  return client;
}

export function expectStatus(got: ClientStatus, want: ClientStatus, what: string): void {
  if (got !== want) throw new Error(`${what}: expected ${want}, got ${got}`);
}

/** Retries `fn` while it answers one of `retryOn` (e.g. GRACE until a node's grace time passed). */
export async function until(fn: () => Promise<ClientStatus>, retryOn: ClientStatus[], options: { timeoutMs?: number; pauseMs?: number } = {}): Promise<{ status: ClientStatus; attempts: ClientStatus[] }> {
  const attempts: ClientStatus[] = [];
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const status = await fn();
    attempts.push(status);
    if (!retryOn.includes(status) || Date.now() > deadline) return { status, attempts };
    await new Promise((r) => setTimeout(r, options.pauseMs ?? 50));
  }
}

/** The clients whose reclaims the log accepted on `node` (in any grace period). */
export async function reclaimedOn(sim: SimCluster): Promise<Map<string, Set<string>>> {
  const byNode = new Map<string, Set<string>>();
  for (const m of await sim.log()) {
    for (const e of m.events) {
      if (e.type !== 'ReclaimAccepted') continue;
      const set = byNode.get(e.node) ?? byNode.set(e.node, new Set()).get(e.node)!;
      for (const c of e.clients) set.add(c);
    }
  }
  return byNode;
}
