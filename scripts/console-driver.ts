/**
 * What the console's browser tests and `npm run console:screenshots` share: a small real system
 * (NATS, PostgreSQL, coordinator, registry, node-agents as processes, scripts/system.ts), Debian's
 * Chromium driven by playwright-core, and one restart-and-reclaim cycle driven step by step
 * through the agents' JSON sockets, as NFS servers would.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { AgentClient } from '#agent-client';
import { type AgentReply, clientIdOfOwner } from '#contracts';
import { System, type SystemOptions } from './system';

export const CHROMIUM = process.env.GK_CHROMIUM ?? '/usr/bin/chromium';

export interface ConsoleBrowser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** Headless Chromium with a fresh profile, at a laptop's screen size. */
export async function launchConsoleBrowser(viewport = { width: 1366, height: 768 }): Promise<ConsoleBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does), or set GK_CHROMIUM`);
  const profile = mkdtempSync(join(tmpdir(), 'gk-console-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context, page,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Starts the system; the caller stops it (`system.stop()`). */
export async function startConsoleSystem(options: Omit<SystemOptions, 'log'> & { log?: SystemOptions['log'] }): Promise<System> {
  const system = new System({ log: () => undefined, ...options });
  try {
    await system.start();
  } catch (err) {
    await system.stop();
    throw err;
  }
  return system;
}

/** One NFS client: its owner string as the kernel sends it, and the node it mounted. */
export interface CycleClient {
  owner: string;
  id: string;
  node: string;
}

/**
 * One restart-and-reclaim cycle, step by step: clients mount, `restarting` restarts (grace_start),
 * its clients reclaim one at a time, then it says grace_done and the cluster leaves grace.
 */
export class RestartCycle {
  readonly clients: CycleClient[];
  private constructor(private readonly agents: Map<string, AgentClient>, readonly restarting: string, owners: Record<string, string[]>) {
    this.clients = Object.entries(owners).flatMap(([node, list]) => list.map((owner) => ({ owner, id: clientIdOfOwner(owner), node })));
  }

  static async connect(system: System, restarting: string, owners: Record<string, string[]>): Promise<RestartCycle> {
    const agents = new Map<string, AgentClient>();
    for (const a of system.agents) agents.set(a.node!, await AgentClient.connect(a.jsonSocket!, { defaultTimeoutMs: 60_000, connectTimeoutMs: 5000 }));
    return new RestartCycle(agents, restarting, owners);
  }

  get reclaimers(): CycleClient[] {
    return this.clients.filter((c) => c.node === this.restarting);
  }

  async mount(): Promise<void> {
    for (const c of this.clients) await this.expect(c.node, 'create', { client: c.id, hasSession: true });
  }

  async restart(): Promise<AgentReply> {
    return this.expect(this.restarting, 'grace_start');
  }

  async reclaim(c: CycleClient): Promise<void> {
    await this.expect(c.node, 'reclaim', { client: c.id, hasSession: true }, ['NFS4ERR_GRACE']);
    await this.expect(c.node, 'reclaim_complete', { client: c.id, hasSession: true });
  }

  async finish(): Promise<AgentReply> {
    return this.expect(this.restarting, 'grace_done');
  }

  /** The clients unmount, so that a later cycle has only its own clients to wait for. */
  async unmount(): Promise<void> {
    for (const c of this.clients) await this.ask(c.node, 'remove', { client: c.id });
  }

  close(): void {
    for (const a of this.agents.values()) void a.close();
  }

  /** Retries what an NFS server retries (NFS4ERR_DELAY, and `retry` statuses), then wants OK. */
  private async expect(node: string, op: string, fields: Record<string, unknown> = {}, retry: string[] = []): Promise<AgentReply> {
    for (let attempt = 1; ; attempt++) {
      const reply = await this.ask(node, op, fields);
      if (reply.status === 'OK') return reply;
      if (!retry.includes(reply.status) || attempt >= 50) throw new Error(`${op} on ${node}: ${reply.status} ${reply.error ?? ''}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async ask(node: string, op: string, fields: Record<string, unknown>): Promise<AgentReply> {
    const agent = this.agents.get(node);
    if (!agent) throw new Error(`no agent for node ${node}`);
    for (let attempt = 1; ; attempt++) {
      const reply = await agent.request(op, fields);
      if (reply.status !== 'NFS4ERR_DELAY' || attempt >= 20) return reply;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}
