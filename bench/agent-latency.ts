// Longer than 300 lines on purpose: one benchmark run measures every agent figure of SPEC §5 side by side (same machine state), so its steps stay in one file.
/**
 * node-agent latency and throughput, measured side by side in one run (SPEC §5):
 *   - create / check through the JSON socket and through the cld socket, each acknowledged only
 *     once durable in JetStream: one caller (what one upcall sees) and many concurrent callers
 *     (p50, p99, requests/s) — targets p50 ≤ 0.5 ms, p99 ≤ 2 ms, ≥ 20,000 creates/s;
 *   - nfs-utils' `nfsdcltrack create` / `check` (Debian's binary on SQLite, one process per call,
 *     as the kernel runs it) and `gk-cltrack create` (the drop-in, also one process per call);
 *   - the agent's RSS with 100,000 client records (target ≤ 200 MB), and its restart time.
 * The agent runs as its own process (node dist/apps/node-agent/src/main.js) on NATS found or
 * started by libs/infra, under a private subject prefix that is deleted afterwards.
 *
 * Usage: npm run bench:agent [-- --quick] [-- --json]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { AgentClient } from '#agent-client';
import { CldFrameSplitter, CldStatus, decodeDowncall, encodeUpcall } from '#cld';
import { streamNames } from '#contracts';
import { ensureNats, uniquePrefix } from '#infra';
import { findNfsdcltrack } from '#testing';
import { timeProcess } from './nfsdcltrack-reference';
import { percentile } from './report';

const REPO = resolve(__dirname, '..', '..');
const AGENT_MAIN = join(REPO, 'dist', 'apps', 'node-agent', 'src', 'main.js');
const CLTRACK_BIN = join(REPO, 'bin', 'gk-cltrack.js');
const quick = process.argv.includes('--quick');
const asJson = process.argv.includes('--json');

const SERIAL = quick ? 500 : 3000;
const CONCURRENT = quick ? 10_000 : 60_000;
const IN_FLIGHT = 128;
/** More callers make bigger group commits: throughput grows with them, latency too. */
const MANY_IN_FLIGHT = 512;
const CONNECTIONS = 8;
const SPAWNS = quick ? 50 : 200;
const RECORDS = 100_000;

interface Row {
  what: string;
  value: number;
  unit: 'ms' | '/s' | 'MB' | 's';
  target?: string;
  ok?: boolean;
}
const rows: Row[] = [];
const log = (m: string) => process.stderr.write(`[bench:agent] ${m}\n`);


/** client ids as Linux nfsd writes them (a "Linux NFSv4.x host/…" owner), as lowercase hex. */
const clientId = (phase: string, i: number) => Buffer.from(`Linux NFSv4.2 bench-${phase}-${i}.example.org`).toString('hex');

/** A pipelined JSON-lines connection to the agent under test (already listening: one dial). */
const openJson = (path: string) => AgentClient.connect(path, { connectTimeoutMs: 0, defaultTimeoutMs: 120_000 });

/** The kernel's side of cld on the agent's cld socket: v2 upcalls, replies matched by xid. */
class CldConn {
  private xid = 1;
  private readonly splitter = new CldFrameSplitter();
  private readonly waiting = new Map<number, (status: number) => void>();
  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.splitter.push(chunk).frames) {
        const d = decodeDowncall(frame);
        if (!d.ok || d.value.status === CldStatus.EINPROGRESS) continue;
        this.waiting.get(d.value.xid)?.(d.value.status);
        this.waiting.delete(d.value.xid);
      }
    });
  }
  static open(path: string): Promise<CldConn> {
    return new Promise((res, rej) => {
      const s = netConnect(path);
      s.once('error', rej);
      s.once('connect', () => res(new CldConn(s)));
    });
  }
  call(cmd: 'Create' | 'Check', clientHex: string): Promise<number> {
    const xid = this.xid++;
    const upcall = encodeUpcall({ version: 2, cmd, xid, name: Buffer.from(clientHex, 'hex') });
    return new Promise((res) => {
      this.waiting.set(xid, res);
      this.socket.write(upcall);
    });
  }
  close(): void {
    this.socket.destroy();
  }
}

type Call = (i: number) => Promise<boolean>;

/** One request at a time: what a single upcall waits. */
async function serial(count: number, call: Call): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    if (!(await call(i))) throw new Error(`request ${i} failed`);
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b);
}

/** `inFlight` callers, each sending its next request when the previous one is answered. */
async function concurrent(count: number, inFlight: number, call: Call): Promise<{ times: number[]; perSecond: number }> {
  const times: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    for (let i = next++; i < count; i = next++) {
      const t = performance.now();
      if (!(await call(i))) throw new Error(`request ${i} failed`);
      times.push(performance.now() - t);
    }
  }));
  const seconds = (performance.now() - start) / 1000;
  return { times: times.sort((a, b) => a - b), perSecond: count / seconds };
}

function latencyRows(label: string, times: number[], targets: boolean): void {
  const p50 = percentile(times, 50);
  const p99 = percentile(times, 99);
  rows.push({ what: `${label} p50`, value: p50, unit: 'ms', ...(targets ? { target: '≤ 0.5 ms', ok: p50 <= 0.5 } : {}) });
  rows.push({ what: `${label} p99`, value: p99, unit: 'ms', ...(targets ? { target: '≤ 2 ms', ok: p99 <= 2 } : {}) });
}

async function processSeries(label: string, count: number, run: (i: number) => Promise<{ ms: number; code: number | null }>): Promise<void> {
  const times: number[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const r = await run(i);
    if (r.code !== 0) throw new Error(`${label}: exit ${r.code}`);
    times.push(r.ms);
  }
  const perSecond = count / ((performance.now() - start) / 1000);
  times.sort((a, b) => a - b);
  rows.push({ what: `${label} p50`, value: percentile(times, 50), unit: 'ms' });
  rows.push({ what: `${label} p99`, value: percentile(times, 99), unit: 'ms' });
  rows.push({ what: `${label} calls/s (one at a time)`, value: perSecond, unit: '/s' });
}

function rssMB(pid: number): number {
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return (kb * 1024) / 1e6;
}

interface Agent {
  child: ChildProcess;
  json: string;
  cld: string;
}

function startAgent(dir: string, natsUrl: string, prefix: string, cluster = 'bench'): Promise<Agent & { readyMs: number }> {
  const json = join(dir, `${cluster}.sock`);
  const cld = join(dir, `${cluster}-cld.sock`);
  const t = performance.now();
  const child = spawn(process.execPath, [AGENT_MAIN, '--cluster', cluster, '--node', 'a', '--nats', natsUrl, '--prefix', prefix,
    '--json-socket', json, '--cld-socket', cld, '--end-grace-file', 'off', '--admin-port', 'off'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((res, rej) => {
    let out = '';
    child.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(' ready: ')) res({ child, json, cld, readyMs: performance.now() - t });
    });
    child.once('exit', (code) => rej(new Error(`agent exited (${code}) before it was ready:\n${out}`)));
  });
}

async function stopAgent(a: Agent): Promise<void> {
  if (a.child.exitCode !== null) return;
  const exited = new Promise((r) => a.child.once('exit', r));
  a.child.kill('SIGTERM');
  await exited;
}

async function main(): Promise<void> {
  const nats = await ensureNats({ log });
  const prefix = uniquePrefix('benchagent');
  const dir = mkdtempSync(join(tmpdir(), 'gk-bench-agent-'));
  let agent: Agent | undefined;
  log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${quick ? 'quick run' : 'full run'}`);
  try {
    agent = await startAgent(dir, nats.url, prefix);
    const conns = await Promise.all(Array.from({ length: CONNECTIONS }, () => openJson(agent!.json)));
    const clds = await Promise.all(Array.from({ length: CONNECTIONS }, () => CldConn.open(agent!.cld)));
    const json = (op: string, phase: string): Call => async (i) => (await conns[i % CONNECTIONS]!.send({ op, client: clientId(phase, i), hasSession: true })).status === 'OK';
    const viaCld = (cmd: 'Create' | 'Check', phase: string): Call => async (i) => (await clds[i % CONNECTIONS]!.call(cmd, clientId(phase, i))) === 0;

    log('warm-up');
    await concurrent(2000, 32, json('create', 'warm'));

    log(`one caller: ${SERIAL} JetStream appends alone (the floor under every create), then creates and checks on each socket`);
    {
      // What one durable append costs here and now, with the expected-sequence check: the floor
      // under a create's latency (the agent adds its socket, the decision and applying it).
      const nc = await natsConnect({ servers: nats.url });
      const js = jetstream(nc);
      const subject = `${prefix}.bench.floor`;
      let last = 0;
      const payload = Buffer.from(JSON.stringify({ kind: 'floor', clients: [clientId('floor', 0)] }));
      const times = await serial(SERIAL, async (i) => {
        last = (await js.publish(subject, payload, { msgID: `floor-${i}`, expect: { lastSubjectSequence: last } })).seq;
        return true;
      });
      await nc.close();
      rows.push({ what: 'JetStream append alone, one caller p50', value: percentile(times, 50), unit: 'ms' });
      rows.push({ what: 'JetStream append alone, one caller p99', value: percentile(times, 99), unit: 'ms' });
    }
    latencyRows('JSON create, one caller', await serial(SERIAL, json('create', 'js')), true);
    latencyRows('JSON check, one caller', await serial(SERIAL, json('check', 'js')), true);
    latencyRows('cld Create, one caller', await serial(SERIAL, viaCld('Create', 'cs')), true);
    latencyRows('cld Check, one caller', await serial(SERIAL, viaCld('Check', 'cs')), true);

    log(`${IN_FLIGHT} concurrent callers: ${CONCURRENT} creates and checks on each socket`);
    for (const [label, create, check] of [
      ['JSON', json('create', 'jc'), json('check', 'jc')],
      ['cld', viaCld('Create', 'cc'), viaCld('Check', 'cc')],
    ] as const) {
      const c = await concurrent(CONCURRENT, IN_FLIGHT, create);
      latencyRows(`${label} create, ${IN_FLIGHT} callers`, c.times, false);
      rows.push({ what: `${label} creates/s, ${IN_FLIGHT} callers`, value: c.perSecond, unit: '/s', target: '≥ 20,000/s', ok: c.perSecond >= 20_000 });
      const k = await concurrent(CONCURRENT, IN_FLIGHT, check);
      latencyRows(`${label} check, ${IN_FLIGHT} callers`, k.times, false);
      rows.push({ what: `${label} checks/s, ${IN_FLIGHT} callers`, value: k.perSecond, unit: '/s' });
    }
    for (const [label, create] of [['JSON', json('create', 'jm')], ['cld', viaCld('Create', 'cm')]] as const) {
      const c = await concurrent(CONCURRENT, MANY_IN_FLIGHT, create);
      latencyRows(`${label} create, ${MANY_IN_FLIGHT} callers`, c.times, false);
      rows.push({ what: `${label} creates/s, ${MANY_IN_FLIGHT} callers`, value: c.perSecond, unit: '/s', target: '≥ 20,000/s', ok: c.perSecond >= 20_000 });
    }

    const where = findNfsdcltrack(join(REPO, '.tmp', 'nfsdcltrack'));
    if ('skipReason' in where) {
      log(`nfsdcltrack not measured: ${where.skipReason}`);
    } else {
      log(`nfsdcltrack and gk-cltrack: ${SPAWNS} processes each`);
      const store = join(dir, 'sqlite');
      const env = { NFSDCLTRACK_CLIENT_HAS_SESSION: 'Y', NFSDCLTRACK_GRACE_START: String(Math.floor(Date.now() / 1000)) };
      await timeProcess(where.path, ['-s', store, 'init'], env);
      await processSeries('nfsdcltrack create (process per call)', SPAWNS, (i) => timeProcess(where.path, ['-s', store, 'create', clientId('nt', i)], env));
      await processSeries('nfsdcltrack check (process per call)', SPAWNS, (i) => timeProcess(where.path, ['-s', store, 'check', clientId('nt', i)], env));
    }
    const cltrackEnv = { GK_AGENT_SOCKET: agent.json, NFSDCLTRACK_CLIENT_HAS_SESSION: 'Y', PATH: process.env.PATH ?? '' };
    await processSeries('gk-cltrack create (process per call)', SPAWNS, (i) => timeProcess(process.execPath, [CLTRACK_BIN, 'create', clientId('gt', i)], cltrackEnv));

    for (const c of conns) c.close();
    for (const c of clds) c.close();
    await stopAgent(agent);

    log(`memory: an agent of a fresh cluster with ${RECORDS.toLocaleString('en-US')} client records`);
    agent = await startAgent(dir, nats.url, prefix, 'bench-memory');
    const memConns = await Promise.all(Array.from({ length: CONNECTIONS }, () => openJson(agent!.json)));
    await concurrent(RECORDS, 256, async (i) => (await memConns[i % CONNECTIONS]!.send({ op: 'create', client: clientId('mem', i), hasSession: true })).status === 'OK');
    for (const c of memConns) c.close();
    const rss = rssMB(agent.child.pid!);
    rows.push({ what: `agent RSS, ${RECORDS.toLocaleString('en-US')} records, just after creating them`, value: rss, unit: 'MB', target: '≤ 200 MB', ok: rss <= 200 });
    await stopAgent(agent);
    const restarted = await startAgent(dir, nats.url, prefix, 'bench-memory');
    agent = restarted;
    const probe = await openJson(restarted.json);
    const status = (await probe.send({ op: 'status' })) as unknown as { records: { current: number } };
    probe.close();
    if (status.records.current !== RECORDS) throw new Error(`restarted agent has ${status.records.current} records, expected ${RECORDS}`);
    const rss2 = rssMB(restarted.child.pid!);
    rows.push({ what: `agent restart with ${RECORDS.toLocaleString('en-US')} records: start to ready`, value: restarted.readyMs / 1000, unit: 's' });
    rows.push({ what: `agent RSS, ${RECORDS.toLocaleString('en-US')} records, after a restart`, value: rss2, unit: 'MB', target: '≤ 200 MB', ok: rss2 <= 200 });
  } finally {
    if (agent) await stopAgent(agent).catch(() => undefined);
    const nc = await natsConnect({ servers: nats.url });
    await (await jetstreamManager(nc)).streams.delete(streamNames(prefix).stream).catch(() => undefined);
    await nc.close();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  report();
}

function report(): void {
  if (asJson) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  const fmt = (r: Row) => (r.unit === '/s' ? `${Math.round(r.value).toLocaleString('en-US')}/s` : r.unit === 'ms' ? `${r.value.toFixed(3)} ms` : r.unit === 'MB' ? `${r.value.toFixed(1)} MB` : `${r.value.toFixed(2)} s`);
  const width = Math.max(...rows.map((r) => r.what.length));
  process.stdout.write('node-agent benchmark (SPEC §5)\n');
  for (const r of rows) {
    const verdict = r.target ? `  target ${r.target} ${r.ok ? 'met' : 'MISSED'}` : '';
    process.stdout.write(`  ${r.what.padEnd(width)}  ${fmt(r).padStart(12)}${verdict}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:agent failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
