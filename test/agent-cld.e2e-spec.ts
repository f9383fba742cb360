// Longer than 300 lines on purpose: cld byte for byte through a real agent, one case per command and error, v1 and v2.
/**
 * cld (SPEC §4.1) byte for byte through the node-agent: every command and every error, v1 and
 * v2, on the cld socket (in-process agent, real NATS) and on the pipe (the real agent process
 * reading a pty that stands in for rpc_pipefs). Expected downcalls are built here from the
 * upcall's own bytes (status at offset 2, host order), not by the codec under test.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { endianness, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { type CldDowncall, CldStatus, type CldVersion, encodeUpcall } from '#cld';
import { subjects } from '#contracts';
import { openGraceStore, type OpenedStore } from '#cluster-store';
import { startNatsServer, type NatsServer } from '#infra';
import { CldStreamClient, type Exchange } from '../apps/node-agent/test/cld-client';
import { AgentClient } from '#agent-client';
import { spawnAgent, type AgentProcess } from '../apps/node-agent/test/agent-process';
import { startTestAgent, type TestAgent } from '../apps/node-agent/test/in-process';
import { AGENT_CLIENT_OPTIONS, cleanupStream, testNatsUrl, testStreamNames, waitUntil } from '#testing';

jest.setTimeout(120_000);
const names = testStreamNames('agentcld');
let admin: NatsConnection;
let opened: OpenedStore;

beforeAll(async () => {
  admin = await natsConnect({ servers: testNatsUrl() });
  opened = await openGraceStore({ natsUrl: testNatsUrl(), names, name: 'agent-cld-test' });
});
afterAll(async () => {
  await opened.close();
  await cleanupStream(admin, names);
  await admin.close();
});

const LE = endianness() === 'LE';
const SIZE = { 1: 1034, 2: 1067 } as const;
const HASH = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 7 + 1) & 0xff));
let nextXid = 0x1000;

/** The upcall's bytes with cm_status replaced: what every status-only downcall must be. */
function withStatus(upcall: Buffer, status: number): Buffer {
  const out = Buffer.from(upcall);
  if (LE) out.writeInt16LE(status, 2);
  else out.writeInt16BE(status, 2);
  return out;
}

function hex(frames: Buffer[]): string[] {
  return frames.map((f) => f.toString('hex'));
}

/** One cld conversation; `call` sends an upcall and returns every downcall for its xid. */
interface Kernel {
  call(upcall: Buffer): Promise<Exchange>;
}

function upcall(version: CldVersion, cmd: Parameters<typeof encodeUpcall>[0]['cmd'], name?: string | Buffer, principalHash?: Buffer): Buffer {
  const n = typeof name === 'string' ? Buffer.from(name) : name;
  return encodeUpcall({ version, cmd, xid: nextXid++, ...(n ? { name: n } : {}), ...(principalHash ? { principalHash } : {}) });
}

/** A raw upcall with fields libs/cld's encoder refuses to build (lengths out of range). */
function rawUpcall(version: CldVersion, cmd: number, nameLength: number, hashLength = 0): Buffer {
  const b = Buffer.alloc(SIZE[version]);
  b[0] = version;
  b[1] = cmd;
  if (LE) b.writeUInt32LE(nextXid++, 4);
  else b.writeUInt32BE(nextXid++, 4);
  if (LE) b.writeUInt16LE(nameLength, 8);
  else b.writeUInt16BE(nameLength, 8);
  b.fill(0x61, 10, 10 + Math.min(nameLength, 1024));
  if (version === 2) b[8 + 2 + 1024] = hashLength;
  return b;
}

const xidOf = (b: Buffer) => (LE ? b.readUInt32LE(4) : b.readUInt32BE(4));

/**
 * The command-by-command conversation both transports must hold, for one version. `node` is a
 * fresh node of a fresh cluster; `waitEndGrace` tells when Y was written.
 */
async function everyCommand(kernel: Kernel, version: CldVersion, endGraceFile: string): Promise<void> {
  const call = (u: Buffer) => kernel.call(u);
  const A = `client-a.v${version}.example.org`;
  const B = `client-b.v${version}`;
  const C = `client-c.v${version}`;

  // GetVersion in both message sizes: status 0, cm_version 2, everything else echoed.
  for (const v of [1, 2] as const) {
    const u = upcall(v, 'GetVersion');
    const { frames, decoded } = await call(u);
    const expected = withStatus(u, 0);
    expected[8] = 2;
    expect(hex(frames)).toEqual(hex([expected]));
    expect(decoded[0]).toMatchObject({ length: SIZE[v], cmVersion: 2, xid: xidOf(u) });
  }

  // Create, Check (hit and miss), Remove: status-only replies of the request's exact size.
  for (const [name, hash] of [[A, HASH], [B, undefined], [C, undefined]] as const) {
    const u = upcall(version, 'Create', name, hash);
    expect(hex((await call(u)).frames)).toEqual(hex([withStatus(u, 0)]));
  }
  const checkA = upcall(version, 'Check', A, version === 2 ? HASH : undefined);
  expect(hex((await call(checkA)).frames)).toEqual(hex([withStatus(checkA, 0)]));
  const checkZ = upcall(version, 'Check', 'never-created');
  expect(hex((await call(checkZ)).frames)).toEqual(hex([withStatus(checkZ, CldStatus.EACCES)]));
  const removeC = upcall(version, 'Remove', C);
  expect(hex((await call(removeC)).frames)).toEqual(hex([withStatus(removeC, 0)]));
  const removeAgain = upcall(version, 'Remove', C);
  expect(hex((await call(removeAgain)).frames)).toEqual(hex([withStatus(removeAgain, 0)]));
  const checkC = upcall(version, 'Check', C);
  expect(hex((await call(checkC)).frames)).toEqual(hex([withStatus(checkC, CldStatus.EACCES)]));

  // GraceStart: the NFS server restarted. Each reclaimable client is one -EINPROGRESS reply
  // (the request with its union cleared and refilled), then a final 0.
  const start = upcall(version, 'GraceStart');
  const { frames, decoded } = await call(start);
  expect(decoded.map((d) => d.status)).toEqual([CldStatus.EINPROGRESS, CldStatus.EINPROGRESS, 0]);
  const streamed = new Map<string, CldDowncall>(decoded.slice(0, 2).map((d) => [d.name!.toString(), d]));
  expect([...streamed.keys()].sort()).toEqual([A, B].sort());
  for (const f of frames) {
    expect(f.length).toBe(start.length);
    expect(hex([f.subarray(0, 2), f.subarray(4, 8)])).toEqual(hex([start.subarray(0, 2), start.subarray(4, 8)]));
  }
  for (const [name, hash] of [[A, version === 2 ? HASH : null], [B, null]] as const) {
    const f = frames[decoded.findIndex((d) => d.name?.toString() === name)]!;
    const expected = withStatus(start, CldStatus.EINPROGRESS);
    expected.fill(0, 8);
    if (LE) expected.writeUInt16LE(name.length, 8);
    else expected.writeUInt16BE(name.length, 8);
    expected.write(name, 10);
    if (hash) {
      expected[8 + 2 + 1024] = hash.length;
      hash.copy(expected, 8 + 2 + 1024 + 1);
    }
    expect(f.toString('hex')).toBe(expected.toString('hex'));
  }

  // During grace: A still checks (its record of R); the kernel's Create after A reclaimed
  // records it in C; GraceDone ends this one-node cluster's grace and writes Y.
  const checkAgain = upcall(version, 'Check', A);
  expect((await call(checkAgain)).decoded[0]!.status).toBe(0);
  const reclaimed = upcall(version, 'Create', A, HASH);
  expect(hex((await call(reclaimed)).frames)).toEqual(hex([withStatus(reclaimed, 0)]));
  writeFileSync(endGraceFile, '');
  const done = upcall(version, 'GraceDone');
  expect(hex((await call(done)).frames)).toEqual(hex([withStatus(done, 0)]));
  await waitUntil(() => readFileSync(endGraceFile, 'utf8') === 'Y');
  const afterA = upcall(version, 'Check', A);
  expect((await call(afterA)).decoded[0]!.status).toBe(0);
  const afterB = upcall(version, 'Check', B);
  expect(hex((await call(afterB)).frames)).toEqual(hex([withStatus(afterB, CldStatus.EACCES)]));

  // Errors: each answered with its status, echoing the request; serving goes on.
  const unknown = upcall(version, 9, A);
  expect(hex((await call(unknown)).frames)).toEqual(hex([withStatus(unknown, CldStatus.EOPNOTSUPP)]));
  const tooLong = rawUpcall(version, 0, 1025);
  expect(hex((await call(tooLong)).frames)).toEqual(hex([withStatus(tooLong, CldStatus.ENAMETOOLONG)]));
  const empty = rawUpcall(version, 0, 0);
  expect(hex((await call(empty)).frames)).toEqual(hex([withStatus(empty, CldStatus.EINVAL)]));
  const longest = upcall(version, 'Create', Buffer.alloc(1024, 0x7a));
  expect(hex((await call(longest)).frames)).toEqual(hex([withStatus(longest, 0)]));
  if (version === 2) {
    const badHash = rawUpcall(2, 0, 4, 33);
    expect(hex((await call(badHash)).frames)).toEqual(hex([withStatus(badHash, CldStatus.EINVAL)]));
  }
  const still = upcall(version, 'Check', A);
  expect((await call(still)).decoded[0]!.status).toBe(0);
}

describe('cld on the agent socket', () => {
  const agents: TestAgent[] = [];
  afterAll(async () => {
    for (const a of agents) await a.stop();
  });
  const agent = async (cluster: string, node: string, natsUrl = testNatsUrl(), store: OpenedStore | undefined = opened, requestTimeoutMs?: number) => {
    const a = await startTestAgent({ natsUrl, names, cluster, node, store, requestTimeoutMs });
    agents.push(a);
    return a;
  };

  it.each([1, 2] as const)('v%i: every command, every error, byte for byte', async (version) => {
    const a = await agent(`sock-v${version}`, 'n1');
    const { client, socket } = await CldStreamClient.connect(a.cldPath);
    await everyCommand({ call: (u) => client.call(u, xidOf(u)) }, version, a.endGraceFile);
    expect(client.stray).toEqual([]);
    socket.destroy();
  });

  it('cuts frames out of any stream chunking, and answers pipelined upcalls', async () => {
    const a = await agent('sock-frames', 'n1');
    const { client, socket } = await CldStreamClient.connect(a.cldPath);
    const created = upcall(2, 'Create', 'x1');
    await client.call(created, xidOf(created));
    // Pipelined upcalls run concurrently (as the kernel's, for different clients).
    const ups = [upcall(2, 'Create', 'x3'), upcall(1, 'GetVersion'), upcall(2, 'Check', 'x1'), upcall(2, 'Check', 'x2')];
    const answers = ups.map((u) => new Promise<Exchange>((r) => (client as unknown as { waiting: Map<number, unknown> }).waiting.set(xidOf(u), { frames: [], resolve: r })));
    const bytes = Buffer.concat(ups);
    for (let at = 0; at < bytes.length; at += 333) socket.write(bytes.subarray(at, at + 333));
    const replies = await Promise.all(answers);
    expect(replies.map((r) => r.decoded[0]!.status)).toEqual([0, 0, 0, CldStatus.EACCES]);
    socket.destroy();
  });

  it('closes only the connection that sent an unknown cm_vers (no frame boundary left), and keeps serving', async () => {
    const a = await agent('sock-badvers', 'n1');
    const { client, socket } = await CldStreamClient.connect(a.cldPath);
    const good = upcall(2, 'GetVersion');
    const answered = client.call(good, xidOf(good));
    const bad = Buffer.alloc(1067);
    bad[0] = 7;
    socket.write(bad);
    expect((await answered).decoded[0]!.status).toBe(0);
    await new Promise<void>((r) => (socket.closed ? r() : socket.once('close', () => r())));
    expect(client.stray).toEqual([]);
    const again = await CldStreamClient.connect(a.cldPath);
    const u = upcall(2, 'GetVersion');
    expect((await again.client.call(u, xidOf(u))).decoded[0]).toMatchObject({ status: 0, cmVersion: 2 });
    again.socket.destroy();
  });

  it('GraceDone answers only once the cluster grace ended (another node still reclaiming)', async () => {
    const a = await agent('sock-gracedone', 'a');
    const b = await agent('sock-gracedone', 'b');
    const { client, socket } = await CldStreamClient.connect(a.cldPath);
    const jb = await AgentClient.connect(b.jsonPath, AGENT_CLIENT_OPTIONS);
    const start = upcall(2, 'GraceStart');
    expect((await client.call(start, xidOf(start))).decoded.map((d) => d.status)).toEqual([0]);
    expect(await jb.send({ op: 'grace_start' })).toMatchObject({ recoveryEpoch: 1 });
    const done = upcall(2, 'GraceDone');
    let answered = false;
    const reply = client.call(done, xidOf(done)).then((r) => ((answered = true), r));
    await waitUntil(() => a.core.view.state.members.get('a')?.need === false);
    const probe = upcall(2, 'GetVersion');
    await client.call(probe, xidOf(probe));
    expect(answered).toBe(false);
    expect(readFileSync(a.endGraceFile, 'utf8')).toBe('');
    expect(await jb.send({ op: 'grace_done', wait: false })).toMatchObject({ ended: true });
    expect(hex((await reply).frames)).toEqual(hex([withStatus(done, 0)]));
    await waitUntil(() => readFileSync(a.endGraceFile, 'utf8') === 'Y' && readFileSync(b.endGraceFile, 'utf8') === 'Y');
    jb.close();
    socket.destroy();
  });

  describe('when the event store is unreachable', () => {
    let nats: NatsServer;
    let own: OpenedStore;
    beforeAll(async () => {
      nats = await startNatsServer();
      own = await openGraceStore({ natsUrl: nats.url, names, name: 'agent-cld-partition' });
    });
    afterAll(async () => {
      await nats.kill('SIGCONT');
      await own.close();
      await nats.stop();
    });

    it('answers -EREMOTEIO to what is still queued at its deadline, never decides it afterwards, and answers the upcall in flight its real outcome', async () => {
      // Issue 10 item 6. The kernel treats -EREMOTEIO as "no record" (Create not stable, Check a
      // miss: RECLAIM_BAD), so an upcall answered so must never take effect later. On the old
      // code the queued Remove and GraceStart were still appended once NATS came back, and the
      // Create in flight was answered -EREMOTEIO although it was stored.
      const a = await agent('sock-partition', 'n1', nats.url, own, 1500);
      const { client, socket } = await CldStreamClient.connect(a.cldPath);
      const first = upcall(2, 'Create', 'p1');
      expect((await client.call(first, xidOf(first))).decoded[0]!.status).toBe(0);
      await nats.kill('SIGSTOP');
      const batchesBefore = a.core.views.totalBatches;
      const inFlight = upcall(2, 'Create', 'p2');
      let inFlightAnswered = false;
      const inFlightReply = client.call(inFlight, xidOf(inFlight)).then((r) => ((inFlightAnswered = true), r));
      await waitUntil(() => a.core.views.totalBatches > batchesBefore, 'the Create to be taken into a batch');
      const queued = [upcall(2, 'Remove', 'p1'), upcall(2, 'GraceStart')];
      const replies = await Promise.all(queued.map((u) => client.call(u, xidOf(u))));
      replies.forEach((r, i) => expect(hex(r.frames)).toEqual(hex([withStatus(queued[i]!, CldStatus.EREMOTEIO)])));
      const version = upcall(2, 'GetVersion');
      expect((await client.call(version, xidOf(version))).decoded[0]!.status).toBe(0);
      expect(inFlightAnswered).toBe(false);
      await nats.kill('SIGCONT');
      expect((await inFlightReply).decoded[0]!.status).toBe(0);
      await waitUntil(async () => {
        const u = upcall(2, 'Create', 'p3');
        return (await client.call(u, xidOf(u))).decoded[0]!.status === 0;
      }, 'a Create to succeed once NATS is back', 30_000);
      // The log: p1, p2 and p3 recorded; the withdrawn Remove and GraceStart never appended.
      const { messages } = await own.store.readStream(subjects.cluster(names, 'sock-partition'));
      const types = messages.flatMap((m) => m.message.events.map((e) => e.type));
      expect(types).not.toContain('ClientRemoved');
      expect(types).not.toContain('GraceStarted');
      const check = upcall(2, 'Check', 'p1');
      expect((await client.call(check, xidOf(check))).decoded[0]!.status).toBe(0);
      socket.destroy();
    }, 60_000);
  });
});

describe('cld on the pipe (real agent process, a pty standing in for rpc_pipefs)', () => {
  const RELAY = resolve(__dirname, '..', 'libs', 'testing', 'pty-relay.py');
  let work: string;
  beforeAll(() => {
    if (spawnSync('python3', ['--version']).status !== 0) throw new Error('python3 (for the pty relay) is not installed');
    work = mkdtempSync(join(tmpdir(), 'gk-agent-pipe-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  async function pipeAgent(cluster: string, mode: 'stream' | 'messages', framed = true) {
    const dir = mkdtempSync(join(work, `${cluster}-`));
    const pipePath = join(dir, 'cld');
    const relay = spawn('python3', [RELAY, pipePath]) as ChildProcessWithoutNullStreams;
    await new Promise<void>((r) => relay.stderr.once('data', () => r()));
    const endGraceFile = join(dir, 'v4_end_grace');
    writeFileSync(endGraceFile, '');
    const agent: AgentProcess = spawnAgent(
      ['--cluster', cluster, '--node', 'n1', '--cld-pipe', pipePath, '--json-socket', 'off', '--admin-port', 'off', '--end-grace-file', endGraceFile],
      { NATS_URL: testNatsUrl(), GK_PREFIX: names.prefix, GK_CLD_PIPE_MODE: mode },
    );
    await agent.ready;
    const client = new CldStreamClient((f) => relay.stdin.write(f));
    if (framed) relay.stdout.on('data', (chunk: Buffer) => client.receive(chunk));
    return {
      client,
      relay,
      endGraceFile,
      async stop() {
        await agent.kill('SIGTERM');
        relay.stdin.end();
      },
      output: () => agent.output(),
    };
  }

  it.each([1, 2] as const)('v%i: every command, every error, byte for byte', async (version) => {
    const p = await pipeAgent(`pipe-v${version}`, 'stream');
    try {
      await everyCommand({ call: (u) => p.client.call(u, xidOf(u)) }, version, p.endGraceFile);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nagent output:\n${p.output()}`);
    } finally {
      await p.stop();
    }
  });

  it('with one message per read (as on rpc_pipefs), a frame of the wrong size gets -EINVAL and serving goes on', async () => {
    const p = await pipeAgent('pipe-messages', 'messages', false);
    try {
      const wrong = upcall(2, 'Check', 'w1').subarray(0, 1034);
      const raw = new Promise<Buffer>((r) => p.relay.stdout.once('data', (d: Buffer) => r(d)));
      p.relay.stdin.write(wrong);
      expect((await raw).toString('hex')).toBe(withStatus(wrong, CldStatus.EINVAL).toString('hex'));
      const badVersion = Buffer.from(upcall(2, 'GetVersion'));
      badVersion[0] = 9;
      const raw2 = new Promise<Buffer>((r) => p.relay.stdout.once('data', (d: Buffer) => r(d)));
      p.relay.stdin.write(badVersion);
      expect((await raw2).toString('hex')).toBe(withStatus(badVersion, CldStatus.EPROTONOSUPPORT).toString('hex'));
      const u = upcall(2, 'GetVersion');
      const raw3 = new Promise<Buffer>((r) => p.relay.stdout.once('data', (d: Buffer) => r(d)));
      p.relay.stdin.write(u);
      const expected = withStatus(u, 0);
      expected[8] = 2;
      expect((await raw3).toString('hex')).toBe(expected.toString('hex'));
    } finally {
      await p.stop();
    }
  });
});
