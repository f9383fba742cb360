/**
 * `npm run demo`: a restart-and-reclaim cycle, then a failover and failback, told as a timeline.
 *
 * Uses the system `npm start` is running (found through .tmp/run/state.json), or starts one the
 * same way and stops it afterwards. Simulated NFS clients mount on nodes a, b, c (the agent records
 * them) and take locks (each server asks its agent `may_grant` first); NFS server b restarts (its
 * agent gets `grace_start`), the survivors refuse new locks while the cluster is in grace, b's
 * clients reclaim their locks, b says `grace_done`, grace ends for the whole cluster, and every
 * agent writes `Y` to its v4_end_grace file. Then a failover (scripts/demo-failover.ts): host b
 * fails, `gracectl move b a`, b's NFS server starts on a and b's clients reclaim there, grace ends
 * all-reclaimed; and the failback (`gracectl move b b`, b's clients reclaim on b). Events are
 * printed as they land in the log. Last, `gracectl audit --client` of one of b's clients.
 *
 * Flags: `--fast` (no pauses meant for human eyes), `--clients N` (per node, default 4).
 */
import { existsSync, FSWatcher, watch } from 'node:fs';
import { basename, dirname, relative } from 'node:path';
import { AgentClient } from '#agent-client';
import { openGraceStore, OpenedStore } from '#cluster-store';
import { type AgentReply, streamNames, StreamNames, subjects } from '#contracts';
import type { Subscription } from '#event-store';
import { errorMessage, randomToken } from '#infra';
import { describe } from '#projection';
import { ask, type Demo, type DemoClient, pause, perNode, reclaimThrough } from './demo-cast';
import { failback, failover } from './demo-failover';
import { bold, clearProgress, cyan, dim, progress, red, restartClock, say, statusText, yellow } from './demo-output';
import { findOrStart, gracectl, type Target } from './demo-target';

const RESTARTING = 'b';

async function main(): Promise<number> {
  process.stdout.write(bold('Gracekeeper demo: one NFS server restarts, its clients reclaim, the cluster leaves grace together; then its host fails over and back\n\n'));
  const target = await findOrStart();
  let opened: OpenedStore | undefined;
  const subscriptions: Subscription[] = [];
  const watchers: FSWatcher[] = [];
  const agents = new Map<string, AgentClient>();
  try {
    const names: StreamNames = streamNames(target.prefix);
    opened = await openGraceStore({ natsUrl: target.natsUrl, names, name: 'gracekeeper-demo', provision: true });
    for (const [node, { socket }] of target.agents) agents.set(node, await AgentClient.connect(socket, { defaultTimeoutMs: 120_000, connectTimeoutMs: 5000 }));
    if (!agents.has(RESTARTING) || agents.size < 2) throw new Error(`the demo needs node-agents for a and ${RESTARTING} (found: ${[...agents.keys()].join(', ') || 'none'})`);
    const nodes = [...agents.keys()].sort();

    const hello = await agents.get(RESTARTING)!.request('hello');
    if (hello.inGrace) {
      await explainGraceInProgress(target, hello);
      return 1;
    }
    const demo = cast(target, agents, nodes);
    subscriptions.push(...(await followLog(demo, opened, names)));
    watchers.push(...watchEndGraceFiles(demo));

    process.stdout.write('\n');
    restartClock();
    say(`cluster ${target.cluster}: epoch ${String(hello.epoch)}, no grace period; nodes ${nodes.join(', ')}`);
    await pause(300);
    const sample = await mountAndLock(demo);
    await restartAndEnforce(demo);
    const mine = await reclaim(demo);
    await leaveGrace(demo, mine);
    await failover(demo, RESTARTING, mine);
    await failback(demo, RESTARTING, mine);

    clearProgress();
    process.stdout.write(`\n${bold('gracectl dump')}\n${await gracectl(target, ['dump'])}`);
    process.stdout.write(`\n${bold(`gracectl audit --client ${sample.id}`)}  ${dim(`(${sample.name})`)}\n`);
    process.stdout.write(await gracectl(target, ['audit', '--client', sample.id]));

    // The clients unmount, so that the next demo's restart has only its own clients to wait for.
    for (const s of subscriptions.splice(0)) await s.stop();
    await Promise.all(demo.clients.map((x) => ask(agents.get(x.node)!, 'remove', { client: x.id })));
    process.stdout.write(dim(`\n(the demo's ${demo.clients.length} clients unmounted: their records are removed)\n`));
    return 0;
  } finally {
    for (const w of watchers) w.close();
    for (const s of subscriptions) await s.stop();
    for (const a of agents.values()) void a.close();
    await opened?.close();
    if (target.stop) {
      process.stdout.write('\nStopping the system the demo started…\n');
      await target.stop();
    }
  }
}

async function explainGraceInProgress(target: Target, hello: AgentReply): Promise<void> {
  const dump = await gracectl(target, ['dump']);
  const needing = dump.split('\n').filter((l) => /^\S+\tN/.test(l)).map((l) => l.split('\t')[0]);
  process.stdout.write(`\nThe cluster is in a grace period already (epoch ${String(hello.epoch)}, recovery epoch ${String(hello.recoveryEpoch)}):\n${dump}\n` +
    `Let it end (its deadline), or end it now and run the demo again:\n` +
    `  NATS_URL=${target.natsUrl} GK_PREFIX=${target.prefix} GK_CLUSTER=${target.cluster} npx gracectl lift ${needing.join(' ') || '<nodes>'}\n`);
}

/** The demo's clients, `perNode` on each node, with short names. */
function cast(target: Target, agents: Map<string, AgentClient>, nodes: string[]): Demo {
  const run = randomToken(2);
  const clients: DemoClient[] = [];
  for (const node of nodes) {
    for (let i = 1; i <= perNode; i++) {
      const name = `${node}${i}`;
      clients.push({ name, node, id: Buffer.from(`Linux NFSv4.1 demo-${run}-client-${name}`).toString('hex'), lock: `/export/${name}.db [0, 4096)` });
    }
  }
  const nameOf = new Map(clients.map((x) => [x.id, x.name]));
  return { target, agents, survivor: nodes.find((n) => n !== RESTARTING)!, clients, nameOf, run };
}

/** The log as it happens, each event in the audit's words with the clients' short names. */
async function followLog(demo: Demo, opened: OpenedStore, names: StreamNames): Promise<Subscription[]> {
  const shortNames = (text: string) => text.replace(/\b[0-9a-f]{16,}\b/g, (id) => demo.nameOf.get(id) ?? `${id.slice(0, 12)}…`);
  const subscriptions: Subscription[] = [];
  for (const subject of [subjects.cluster(names, demo.target.cluster), subjects.registry(names, demo.target.cluster)]) {
    const from = (await opened.store.currentVersion(subject)) + 1;
    subscriptions.push(await opened.store.subscribe(subject, { fromSequence: from }, (m) => {
      for (const e of m.message.events) {
        const text = shortNames(describe(e, undefined));
        say(`${cyan('log')}   #${m.sequence} ${dim(e.type)}  ${e.type === 'GraceStarted' || e.type === 'GraceEnded' ? yellow(text) : text}`);
      }
    }));
  }
  return subscriptions;
}

function watchEndGraceFiles(demo: Demo): FSWatcher[] {
  const watchers: FSWatcher[] = [];
  for (const [node, { endGraceFile }] of demo.target.agents) {
    if (!endGraceFile || !existsSync(endGraceFile)) continue;
    watchers.push(watch(dirname(endGraceFile), (_e, file) => {
      if (file === basename(endGraceFile)) say(`${cyan('agent')} ${node} wrote Y to ${relative(process.cwd(), endGraceFile)} (its nfsd may leave grace)`);
    }));
  }
  return watchers;
}

/** 1. Clients mount and lock. Returns one of the restarting node's clients, to audit at the end. */
async function mountAndLock(demo: Demo): Promise<DemoClient> {
  const { clients, agents } = demo;
  say(bold(`${clients.length} clients mount (${perNode} per node) and each locks a file`));
  let done = 0;
  await Promise.all(clients.map(async (x) => {
    const agent = agents.get(x.node)!;
    const created = await ask(agent, 'create', { client: x.id, hasSession: true });
    if (created.status !== 'OK') throw new Error(`create ${x.name} on ${x.node}: ${created.status} ${created.error ?? ''}`);
    const grant = await ask(agent, 'may_grant');
    if (grant.status !== 'OK') throw new Error(`may_grant on ${x.node}: ${grant.status} ${grant.error ?? ''}`);
    progress('mount + lock', ++done, clients.length);
  }));
  await pause(200);
  const sample = clients.filter((x) => x.node === RESTARTING)[0]!;
  say(`e.g. ${sample.name} on ${sample.node} holds ${sample.lock}; ${clients.length} locks held`);
  await pause(600);
  return sample;
}

/** 2. Node b restarts; 3. the survivors enforce. */
async function restartAndEnforce(demo: Demo): Promise<void> {
  const { agents, survivor } = demo;
  say(bold(`NFS server ${RESTARTING} restarts: it lost its lock state, its agent gets grace_start`));
  const gs = await ask(agents.get(RESTARTING)!, 'grace_start');
  if (gs.status !== 'OK') throw new Error(`grace_start: ${gs.status} ${gs.error ?? ''}`);
  say(`${RESTARTING}: grace_start → ${statusText(gs.status)}, epoch ${String(gs.epoch)}, recovery epoch ${String(gs.recoveryEpoch)}, ${String(gs.reclaimable)} client(s) may reclaim`);
  await pause(500);

  const refused = await ask(agents.get(survivor)!, 'may_grant');
  say(`${survivor}: a new client wants a lock → may_grant ${statusText(refused.status)} (every server refuses new state while any recovers)`);
  const stranger = Buffer.from(`Linux NFSv4.1 demo-${demo.run}-stranger`).toString('hex');
  demo.nameOf.set(stranger, 'stranger');
  const bad = await ask(agents.get(RESTARTING)!, 'reclaim', { client: stranger, hasSession: true });
  say(`${RESTARTING}: a client it never knew tries to reclaim → ${statusText(bad.status)}`);
  await pause(500);
}

/** 4. b's clients reclaim. Returns them. */
async function reclaim(demo: Demo): Promise<DemoClient[]> {
  const mine = demo.clients.filter((x) => x.node === RESTARTING);
  say(bold(`${RESTARTING}'s ${mine.length} clients reclaim their locks`));
  await reclaimThrough(demo.agents.get(RESTARTING)!, RESTARTING, mine);
  await pause(300);
  return mine;
}

/** 5. b is done; the cluster leaves grace. */
async function leaveGrace(demo: Demo, mine: DemoClient[]): Promise<void> {
  const { agents, survivor } = demo;
  say(bold(`NFS server ${RESTARTING} has no one left to wait for: grace_done`));
  const gd = await ask(agents.get(RESTARTING)!, 'grace_done');
  say(`${RESTARTING}: grace_done → ${statusText(gd.status)} (answered once the cluster's grace ended)`);
  await pause(400);
  const granted = await ask(agents.get(survivor)!, 'may_grant');
  say(`${survivor}: the new client asks again → may_grant ${statusText(granted.status)}`);
  const late = await ask(agents.get(RESTARTING)!, 'reclaim', { client: mine[0]!.id, hasSession: true });
  say(`${RESTARTING}: a late reclaim by ${mine[0]!.name} → ${statusText(late.status)}`);
  await pause(400);
}

// Piped into `head` and cut short: stop quietly (the finally blocks still stop what we started).
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    clearProgress();
    process.stderr.write(`\n${red('demo failed')}: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
