/**
 * The demo's failover and failback acts (docs/failover.md): host b fails, the cluster manager
 * moves identity b to a survivor (`gracectl move b a`), b's NFS server starts there and b's
 * clients reclaim through it, grace ends as soon as they are done; then b is repaired and the
 * identity moves back, its clients reclaim on b. The old host is fenced each time.
 */
import type { AgentClient } from '#agent-client';
import type { AgentReply } from '#contracts';
import { ask, type Demo, type DemoClient, pause, reclaimThrough } from './demo-cast';
import { bold, dim, say, statusText } from './demo-output';
import { gracectl } from './demo-target';

/** `gracectl move identity host`, printed as the operator (or cluster manager) would type it. */
async function move(demo: Demo, identity: string, host: string): Promise<void> {
  say(`${dim('$')} gracectl move ${identity} ${host}`);
  const out = (await gracectl(demo.target, ['move', identity, host])).trim();
  if (out) throw new Error(`gracectl move ${identity} ${host}: ${out}`);
}

/** A request to a host that should be fenced for the identity: asked once (an NFS server would retry "later", elsewhere). */
async function fencedTry(agent: AgentClient, fields: Record<string, unknown>): Promise<string> {
  const r: AgentReply = await agent.request('reclaim', { ...fields, hasSession: true });
  return `${statusText(r.status)}${r.fenced ? ' (fenced)' : ''}`;
}

function started(host: string, what: string, r: AgentReply): string {
  if (r.status !== 'OK') throw new Error(`grace_start ${what} on ${host}: ${r.status} ${r.error ?? ''}`);
  return `${host}: grace_start${what ? ` ${what}` : ''} → ${statusText(r.status)}, recovery epoch ${String(r.recoveryEpoch)}, ${String(r.reclaimable)} client(s) may reclaim here`;
}

/** Host `failed` dies; its identity moves to the demo's survivor; its clients reclaim there. */
export async function failover(demo: Demo, failed: string, clients: DemoClient[]): Promise<void> {
  const host = demo.survivor;
  const takeover = demo.agents.get(host)!;
  const bystander = [...demo.agents.keys()].find((n) => n !== failed && n !== host) ?? host;
  const serves = await takeover.request('status', { identity: failed });
  if (serves.status !== 'OK') {
    throw new Error(`the agent on ${host} cannot serve identity ${failed} (${serves.error ?? serves.status}): restart npm start, whose agents now serve every identity`);
  }
  process.stdout.write('\n');
  say(bold(`Host ${failed} fails: its NFS server is gone. The cluster manager fences it and moves identity ${failed} (its address) to host ${host}`));
  await pause(500);
  await move(demo, failed, host);
  await pause(500);
  say(started(host, `for identity ${failed}`, await ask(takeover, 'grace_start', { identity: failed })) + ` (${failed}'s NFS server started on ${host})`);
  await pause(400);
  say(`${bystander}: a new client wants a lock → may_grant ${statusText((await ask(demo.agents.get(bystander)!, 'may_grant')).status)} (new state waits only until ${failed}'s clients are done)`);
  const own = demo.clients.find((x) => x.node === host)!;
  say(`${host}: its own client ${own.name} keeps its lock → check ${statusText((await ask(takeover, 'check', { client: own.id })).status)}`);
  say(`${failed}: the old host, were it still up (partitioned), is fenced: a reclaim through it → ${await fencedTry(demo.agents.get(failed)!, { client: clients[0]!.id })}`);
  await pause(500);

  say(bold(`${failed}'s ${clients.length} clients reconnect to ${failed}'s address, now on host ${host}, and reclaim there`));
  await reclaimThrough(takeover, host, clients, { identity: failed });
  await pause(300);
  const done = await ask(takeover, 'grace_done', { identity: failed });
  say(`${host}: grace_done for identity ${failed} → ${statusText(done.status)} (the cluster's grace ended: all of ${failed}'s clients reclaimed)`);
  say(`${bystander}: the new client asks again → may_grant ${statusText((await ask(demo.agents.get(bystander)!, 'may_grant')).status)}`);
  await pause(600);
}

/** Host `failed` is back: its identity moves home; its clients reclaim there; the survivor is fenced for it. */
export async function failback(demo: Demo, failed: string, clients: DemoClient[]): Promise<void> {
  const host = demo.survivor;
  const home = demo.agents.get(failed)!;
  process.stdout.write('\n');
  say(bold(`Host ${failed} is repaired: the cluster manager stops ${failed}'s NFS server on ${host} and moves identity ${failed} back (failback)`));
  await pause(500);
  await move(demo, failed, failed);
  await pause(500);
  say(started(failed, '', await ask(home, 'grace_start')) + ` (${failed}'s NFS server started at home)`);
  say(`${host}: serves ${failed} no more: a reclaim for ${failed} through it → ${await fencedTry(demo.agents.get(host)!, { identity: failed, client: clients[0]!.id })}`);
  await pause(400);
  say(bold(`${failed}'s clients reclaim on ${failed} again`));
  await reclaimThrough(home, failed, clients);
  const done = await ask(home, 'grace_done');
  say(`${failed}: grace_done → ${statusText(done.status)} (grace ended: all reclaimed; identity ${failed} is home)`);
  await pause(400);
}
