/** What the demo's acts share (scripts/demo.ts, scripts/demo-failover.ts): the cast, the flags, the NFS server's retries. */
import type { AgentClient } from '#agent-client';
import type { AgentReply } from '#contracts';
import { progress, say } from './demo-output';
import type { Target } from './demo-target';

export interface DemoClient {
  name: string;
  node: string;
  id: string;
  lock: string;
}

/** What the story's steps share. */
export interface Demo {
  target: Target;
  agents: Map<string, AgentClient>;
  survivor: string;
  clients: DemoClient[];
  /** Short names (a1, b2, …) for the hex client ids, in what the demo prints. */
  nameOf: Map<string, string>;
  run: string;
}

const args = process.argv.slice(2);
export const fast = args.includes('--fast');
export const perNode = Math.max(1, Math.min(50, Number(args[args.indexOf('--clients') + 1]) || 4));
export const pause = (ms: number) => (fast ? Promise.resolve() : new Promise((r) => setTimeout(r, ms)));

/** Retries what an NFS server would retry (NFS4ERR_DELAY: the agent's store was slow). */
export async function ask(agent: AgentClient, op: string, fields: Record<string, unknown> = {}): Promise<AgentReply> {
  for (let attempt = 1; ; attempt++) {
    const reply = await agent.request(op, fields);
    if (reply.status !== 'NFS4ERR_DELAY' || attempt >= 20) return reply;
    await new Promise((r) => setTimeout(r, 50 * attempt));
  }
}

/**
 * `clients` reclaim their locks through `agent` (reclaim, then RECLAIM_COMPLETE), one after the
 * other, with a progress bar; `fields` go with each request (e.g. the identity they are for).
 */
export async function reclaimThrough(agent: AgentClient, host: string, clients: DemoClient[], fields: Record<string, unknown> = {}): Promise<void> {
  let reclaimed = 0;
  for (const x of clients) {
    const request = { ...fields, client: x.id, hasSession: true };
    let r = await ask(agent, 'reclaim', request);
    while (r.status === 'NFS4ERR_GRACE') r = await ask(agent, 'reclaim', request);
    if (r.status !== 'OK') throw new Error(`reclaim ${x.name} on ${host}: ${r.status} ${r.error ?? ''}`);
    const rc = await ask(agent, 'reclaim_complete', request);
    if (rc.status !== 'OK') throw new Error(`reclaim_complete ${x.name} on ${host}: ${rc.status}`);
    progress(`reclaiming on ${host}`, ++reclaimed, clients.length);
    await pause(Math.max(50, 1200 / clients.length));
  }
  say(`${host}: all ${clients.length} clients reclaimed their locks and sent RECLAIM_COMPLETE`);
}
