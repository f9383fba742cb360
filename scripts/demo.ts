/**
 * `npm run demo`: one full restart-and-reclaim cycle, told as a timeline.
 *
 * Uses the system `npm start` is running (found through .tmp/run/state.json), or starts one the
 * same way and stops it afterwards. Simulated NFS clients mount on nodes a, b, c (the agent records
 * them) and take locks (each server asks its agent `may_grant` first); NFS server b restarts (its
 * agent gets `grace_start`), the survivors refuse new locks while the cluster is in grace, b's
 * clients reclaim their locks, b says `grace_done`, grace ends for the whole cluster, and every
 * agent writes `Y` to its v4_end_grace file. Events are printed as they land in the log. Last,
 * `gracectl audit --client` of one of b's clients.
 *
 * Flags: `--fast` (no pauses meant for human eyes), `--clients N` (per node, default 4).
 */
import { spawn } from 'node:child_process';
import { existsSync, FSWatcher, readFileSync, watch } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { GkEvent, streamNames, StreamNames, subjects } from '#contracts';
import { openGraceStore, OpenedStore } from '#cluster-store';
import type { Subscription } from '#event-store';
import { errorMessage, randomToken } from '#infra';
import { AgentClient } from '#agent-client';
import type { AgentReply } from '#contracts';
import { processAlive } from './processes';
import type { RunState } from './start';
import { appMain, APPS, ensureDatabase, ensureInfra, Infra, REPO_ROOT, System } from './system';

const STATE_FILE = join(REPO_ROOT, '.tmp', 'run', 'state.json');
const RESTARTING = 'b';

interface Target {
  natsUrl: string;
  prefix: string;
  cluster: string;
  nodes: string[];
  agents: Map<string, { socket: string; endGraceFile?: string }>;
  /** Set when the demo started the system itself. */
  stop?: () => Promise<void>;
}

interface DemoClient {
  name: string;
  node: string;
  id: string;
  lock: string;
}

const args = process.argv.slice(2);
const fast = args.includes('--fast');
const perNode = Math.max(1, Math.min(50, Number(args[args.indexOf('--clients') + 1]) || 4));
let started = performance.now();
const tty = !!process.stdout.isTTY;
const c = (code: number) => (text: string) => (tty ? `\x1b[${code}m${text}\x1b[0m` : text);
const dim = c(2);
const bold = c(1);
const green = c(32);
const red = c(31);
const cyan = c(36);
const yellow = c(33);

function at(): string {
  return dim(`+${((performance.now() - started) / 1000).toFixed(2).padStart(6)}s`);
}
let progressShown = false;
function say(text: string): void {
  clearProgress();
  process.stdout.write(`${at()}  ${text}\n`);
}
function progress(label: string, done: number, total: number): void {
  const width = 24;
  const filled = Math.round((done / total) * width);
  const line = `${at()}  ${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
  if (tty) {
    process.stdout.write(`\r${line}\x1b[K`);
    progressShown = true;
  } else if (done === total) {
    process.stdout.write(`${line}\n`);
  }
}
function clearProgress(): void {
  if (progressShown) process.stdout.write('\r\x1b[K');
  progressShown = false;
}
const pause = (ms: number) => (fast ? Promise.resolve() : new Promise((r) => setTimeout(r, ms)));

async function findOrStart(): Promise<Target> {
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

/** Retries what an NFS server would retry (NFS4ERR_DELAY: the agent's store was slow). */
async function ask(agent: AgentClient, op: string, fields: Record<string, unknown> = {}): Promise<AgentReply> {
  for (let attempt = 1; ; attempt++) {
    const reply = await agent.request(op, fields);
    if (reply.status !== 'NFS4ERR_DELAY' || attempt >= 20) return reply;
    await new Promise((r) => setTimeout(r, 50 * attempt));
  }
}

function statusText(status: string): string {
  return status === 'OK' ? green(status) : red(status);
}

async function main(): Promise<number> {
  process.stdout.write(bold('Gracekeeper demo: one NFS server restarts, its clients reclaim, the cluster leaves grace together\n\n'));
  const target = await findOrStart();
  let opened: OpenedStore | undefined;
  const subscriptions: Subscription[] = [];
  const watchers: FSWatcher[] = [];
  const agents = new Map<string, AgentClient>();
  try {
    const names: StreamNames = streamNames(target.prefix);
    opened = await openGraceStore({ natsUrl: target.natsUrl, names, name: 'gracekeeper-demo' });
    for (const [node, { socket }] of target.agents) agents.set(node, await AgentClient.connect(socket, { defaultTimeoutMs: 120_000, connectTimeoutMs: 5000 }));
    if (!agents.has(RESTARTING) || agents.size < 2) throw new Error(`the demo needs node-agents for a and ${RESTARTING} (found: ${[...agents.keys()].join(', ') || 'none'})`);
    const nodes = [...agents.keys()].sort();
    const survivor = nodes.find((n) => n !== RESTARTING)!;

    const hello = await agents.get(RESTARTING)!.request('hello');
    if (hello.inGrace) {
      const dump = await gracectl(target, ['dump']);
      const needing = dump.split('\n').filter((l) => /^\S+\tN/.test(l)).map((l) => l.split('\t')[0]);
      process.stdout.write(`\nThe cluster is in a grace period already (epoch ${String(hello.epoch)}, recovery epoch ${String(hello.recoveryEpoch)}):\n${dump}\n` +
        `Let it end (its deadline), or end it now and run the demo again:\n` +
        `  NATS_URL=${target.natsUrl} GK_PREFIX=${target.prefix} GK_CLUSTER=${target.cluster} npx gracectl lift ${needing.join(' ') || '<nodes>'}\n`);
      return 1;
    }

    // Who is who: short names for the hex client ids.
    const run = randomToken(2);
    const clients: DemoClient[] = [];
    for (const node of nodes) {
      for (let i = 1; i <= perNode; i++) {
        const name = `${node}${i}`;
        clients.push({ name, node, id: Buffer.from(`Linux NFSv4.1 demo-${run}-client-${name}`).toString('hex'), lock: `/export/${name}.db [0, 4096)` });
      }
    }
    const nameOf = new Map(clients.map((x) => [x.id, x.name]));
    const short = (ids: string[]) => {
      const shown = ids.slice(0, 6).map((id) => nameOf.get(id) ?? `${id.slice(0, 12)}…`);
      return ids.length > 6 ? `${shown.join(', ')} and ${ids.length - 6} more` : shown.join(', ');
    };

    // The log, as it happens.
    const describe = (e: GkEvent): string | undefined => {
      switch (e.type) {
        case 'ClientRecorded': return `${e.node}: ${short(e.clients.map((x) => x.client))} recorded in epoch ${e.epoch}`;
        case 'ClientRemoved': return `${e.node}: ${short(e.clients)} removed`;
        case 'GraceStarted': return `${yellow('grace period begins')}: epoch ${e.epoch}, recovery epoch ${e.recoveryEpoch}, restarted ${e.nodes.join(', ')}`;
        case 'NodeJoinedGrace': return `${e.node} joins the grace period`;
        case 'ReclaimAccepted': return `${e.node}: reclaim of ${short(e.clients)} accepted`;
        case 'ReclaimRejected': return `${e.node}: ${e.rejections.map((r) => `${nameOf.get(r.client) ?? r.client.slice(0, 12)} ${r.op} → ${r.status}`).join(', ')}`;
        case 'ReclaimCompleted': return `${e.node}: RECLAIM_COMPLETE from ${short(e.clients)}`;
        case 'NeedLifted': return `${e.node} has recovered (NEED lifted)`;
        case 'GraceEnded': return `${green('grace period over')} (${e.reason})${e.abandonedNodes.length ? `, abandoned: ${e.abandonedNodes.join(', ')}` : ''}`;
        case 'ClientRecordsInvalidated': return `${e.node}: ${e.clients.length} unreclaimed record(s) of epoch ${e.recoveryEpoch} invalidated`;
        case 'FirstNonReclaimGrant': return `${e.node}: first non-reclaim grant`;
        case 'MemberAdded': return `${e.node} joins the cluster`;
        default: return undefined;
      }
    };
    for (const subject of [subjects.cluster(names, target.cluster), subjects.registry(names, target.cluster)]) {
      const from = (await opened.store.lastSequence(subject)) + 1;
      subscriptions.push(await opened.store.subscribe(subject, { fromSequence: from }, (m) => {
        for (const e of m.message.events) {
          const text = describe(e);
          if (text) say(`${cyan('log')}   #${m.sequence} ${dim(e.type)}  ${text}`);
        }
      }));
    }
    for (const [node, { endGraceFile }] of target.agents) {
      if (!endGraceFile || !existsSync(endGraceFile)) continue;
      watchers.push(watch(dirname(endGraceFile), (_e, file) => {
        if (file === basename(endGraceFile)) say(`${cyan('agent')} ${node} wrote Y to ${relative(process.cwd(), endGraceFile)} (its nfsd may leave grace)`);
      }));
    }

    process.stdout.write('\n');
    started = performance.now(); // the timeline starts with the story, not with the system's start-up
    say(`cluster ${target.cluster}: epoch ${String(hello.epoch)}, no grace period; nodes ${nodes.join(', ')}`);
    await pause(300);

    // 1. Clients mount and lock.
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

    // 2. Node b restarts.
    say(bold(`NFS server ${RESTARTING} restarts: it lost its lock state, its agent gets grace_start`));
    const gs = await ask(agents.get(RESTARTING)!, 'grace_start');
    if (gs.status !== 'OK') throw new Error(`grace_start: ${gs.status} ${gs.error ?? ''}`);
    say(`${RESTARTING}: grace_start → ${statusText(gs.status)}, epoch ${String(gs.epoch)}, recovery epoch ${String(gs.recoveryEpoch)}, ${String(gs.reclaimable)} client(s) may reclaim`);
    await pause(500);

    // 3. Survivors enforce.
    const refused = await ask(agents.get(survivor)!, 'may_grant');
    say(`${survivor}: a new client wants a lock → may_grant ${statusText(refused.status)} (every server refuses new state while any recovers)`);
    const stranger = Buffer.from(`Linux NFSv4.1 demo-${run}-stranger`).toString('hex');
    nameOf.set(stranger, 'stranger');
    const bad = await ask(agents.get(RESTARTING)!, 'reclaim', { client: stranger, hasSession: true });
    say(`${RESTARTING}: a client it never knew tries to reclaim → ${statusText(bad.status)}`);
    await pause(500);

    // 4. b's clients reclaim.
    const mine = clients.filter((x) => x.node === RESTARTING);
    say(bold(`${RESTARTING}'s ${mine.length} clients reclaim their locks`));
    let reclaimed = 0;
    for (const x of mine) {
      const agent = agents.get(RESTARTING)!;
      let r = await ask(agent, 'reclaim', { client: x.id, hasSession: true });
      while (r.status === 'NFS4ERR_GRACE') r = await ask(agent, 'reclaim', { client: x.id, hasSession: true });
      if (r.status !== 'OK') throw new Error(`reclaim ${x.name}: ${r.status} ${r.error ?? ''}`);
      const rc = await ask(agent, 'reclaim_complete', { client: x.id, hasSession: true });
      if (rc.status !== 'OK') throw new Error(`reclaim_complete ${x.name}: ${rc.status}`);
      progress(`reclaiming on ${RESTARTING}`, ++reclaimed, mine.length);
      await pause(Math.max(50, 1200 / mine.length));
    }
    say(`${RESTARTING}: all ${mine.length} clients reclaimed their locks and sent RECLAIM_COMPLETE`);
    await pause(300);

    // 5. b is done; the cluster leaves grace.
    say(bold(`NFS server ${RESTARTING} has no one left to wait for: grace_done`));
    const gd = await ask(agents.get(RESTARTING)!, 'grace_done');
    say(`${RESTARTING}: grace_done → ${statusText(gd.status)} (answered once the cluster's grace ended)`);
    await pause(400);
    const granted = await ask(agents.get(survivor)!, 'may_grant');
    say(`${survivor}: the new client asks again → may_grant ${statusText(granted.status)}`);
    const late = await ask(agents.get(RESTARTING)!, 'reclaim', { client: mine[0]!.id, hasSession: true });
    say(`${RESTARTING}: a late reclaim by ${mine[0]!.name} → ${statusText(late.status)}`);
    await pause(400);

    clearProgress();
    process.stdout.write(`\n${bold('gracectl dump')}\n${await gracectl(target, ['dump'])}`);
    process.stdout.write(`\n${bold(`gracectl audit --client ${sample.id}`)}  ${dim(`(${sample.name})`)}\n`);
    process.stdout.write(await audit(target, opened, names, sample.id, nameOf));

    // The clients unmount, so that the next demo's restart has only its own clients to wait for.
    for (const s of subscriptions.splice(0)) await s.stop();
    await Promise.all(clients.map((x) => ask(agents.get(x.node)!, 'remove', { client: x.id })));
    process.stdout.write(dim(`\n(the demo's ${clients.length} clients unmounted: their records are removed)\n`));
    return 0;
  } finally {
    for (const w of watchers) w.close();
    for (const s of subscriptions) await s.stop();
    for (const a of agents.values()) a.close();
    await opened?.close();
    if (target.stop) {
      process.stdout.write('\nStopping the system the demo started…\n');
      await target.stop();
    }
  }
}

function gracectl(target: Target, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [appMain(APPS.gracectl), ...args], {
      env: { ...process.env, NATS_URL: target.natsUrl, GK_PREFIX: target.prefix, GK_CLUSTER: target.cluster },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    // Exit 2 with "unknown command/option": this gracectl predates `audit`.
    child.once('exit', (code) => resolve(code === 2 && /unknown (command|option)/.test(out) ? `\u0000${out}` : out));
  });
}

/** `gracectl audit --client`; until gracectl has it, the same story read from the log here. */
async function audit(target: Target, opened: OpenedStore, names: StreamNames, client: string, nameOf: Map<string, string>): Promise<string> {
  const out = await gracectl(target, ['audit', '--client', client]);
  if (!out.startsWith('\u0000')) return out;
  const lines: { sequence: number; text: string; names: boolean }[] = [];
  for (const subject of [subjects.cluster(names, target.cluster), subjects.registry(names, target.cluster)]) {
    const { messages } = await opened.store.read(subject);
    for (const m of messages) {
      for (const e of m.message.events) {
        const named =
          ('clients' in e && Array.isArray(e.clients) && e.clients.some((x: string | { client: string }) => (typeof x === 'string' ? x : x.client) === client)) ||
          (e.type === 'ReclaimRejected' && e.rejections.some((r) => r.client === client));
        if (named) lines.push({ sequence: m.sequence, names: true, text: `#${m.sequence}  ${e.time}  ${e.type.padEnd(24)} node ${'node' in e ? String(e.node) : '-'}  epoch ${e.epoch}  by ${e.actor}${e.type === 'ReclaimRejected' ? `  ${e.rejections.filter((r) => r.client === client).map((r) => `${r.op} ${r.status}`).join(', ')}` : ''}` });
        else if (e.type === 'GraceStarted' || e.type === 'GraceEnded') lines.push({ sequence: m.sequence, names: false, text: dim(`#${m.sequence}  ${e.time}  ${e.type}${e.type === 'GraceEnded' ? ` (${e.reason})` : ` (recovery epoch ${e.recoveryEpoch}, ${e.nodes.join(', ')})`}`) });
      }
    }
  }
  // From the client's first appearance on, with the grace periods around it.
  lines.sort((x, y) => x.sequence - y.sequence);
  const first = lines.findIndex((l) => l.names);
  const shown = first < 0 ? [] : lines.slice(first).map((l) => l.text);
  const who = nameOf.get(client) ?? client;
  return [dim(`(gracectl has no audit command yet: the events naming ${who}, read from the log here)`), ...shown].join('\n') + '\n';
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
