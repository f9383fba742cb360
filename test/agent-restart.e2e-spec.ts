/**
 * The agent process killed with SIGKILL in the middle of a storm of requests, then started again
 * (SPEC I6, issue 5 §4): every create and reclaim it acknowledged is in the log and answered as
 * such by the new process; requests that got no answer are simply sent again (as nfsd would) and
 * leave one record each, not two.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { subjects } from '#contracts';
import { openGraceStore, type OpenedStore } from '#cluster-store';
import { spawnAgent, type AgentProcess } from '../apps/node-agent/test/agent-process';
import { AgentClient, AgentUnavailable } from '#agent-client';
import { AGENT_CLIENT_OPTIONS, cleanupStream, testNatsUrl, testStreamNames } from '#testing';

jest.setTimeout(180_000);
const names = testStreamNames('agentrestart');
const CLUSTER = 'restart';
let admin: NatsConnection;
let opened: OpenedStore;
let dir: string;

beforeAll(async () => {
  admin = await natsConnect({ servers: testNatsUrl() });
  opened = await openGraceStore({ natsUrl: testNatsUrl(), names, name: 'agent-restart-test' });
  dir = mkdtempSync(join(tmpdir(), 'gk-agent-restart-'));
});
afterAll(async () => {
  await opened.close();
  await cleanupStream(admin, names);
  await admin.close();
  rmSync(dir, { recursive: true, force: true });
});

const socket = () => join(dir, 'agent.sock');
async function startAgent(): Promise<AgentProcess> {
  const agent = spawnAgent(['--cluster', CLUSTER, '--node', 'n1', '--json-socket', socket(), '--admin-port', 'off', '--end-grace-file', 'off'], {
    NATS_URL: testNatsUrl(),
    GK_PREFIX: names.prefix,
  });
  await agent.ready;
  return agent;
}

const client = (i: number) => Buffer.from(`restart-client-${i}`).toString('hex');

/**
 * Sends `op` for clients [0, count) over several connections, kills the agent once `killAfter`
 * answers are in, and returns the clients whose request was answered OK.
 */
async function stormAndKill(agent: AgentProcess, op: 'create' | 'reclaim', count: number, killAfter: number): Promise<Set<string>> {
  const conns = await Promise.all(Array.from({ length: 4 }, () => AgentClient.connect(socket(), AGENT_CLIENT_OPTIONS)));
  const acked = new Set<string>();
  let answered = 0;
  let killing: Promise<void> | undefined;
  await new Promise<void>((done) => {
    let settled = 0;
    for (let i = 0; i < count; i++) {
      const c = client(i);
      void conns[i % conns.length]!.send({ op, client: c }).then((r) => {
        answered++;
        if (r.status === 'OK') acked.add(c);
        if (answered >= killAfter && !killing) killing = agent.kill('SIGKILL');
      }, (err: unknown) => {
        // Requests cut off by the kill fail with AgentUnavailable: they were not acknowledged.
        if (!(err instanceof AgentUnavailable)) throw err;
      });
    }
    // Done once every connection has ended (the kill ends them all).
    for (const conn of conns) conn.onceDisconnected(() => ++settled === conns.length && done());
  });
  await killing;
  expect(answered).toBeLessThan(count); // the kill did cut requests off
  return acked;
}

async function recordedCounts(): Promise<{ recorded: Map<string, number>; reclaimed: Map<string, number> }> {
  const { messages } = await opened.store.readStream(subjects.cluster(names, CLUSTER));
  const recorded = new Map<string, number>();
  const reclaimed = new Map<string, number>();
  for (const m of messages) {
    for (const e of m.message.events) {
      if (e.type === 'ClientRecorded') for (const r of e.clients) recorded.set(r.client, (recorded.get(r.client) ?? 0) + 1);
      if (e.type === 'ReclaimAccepted') for (const c of e.clients) reclaimed.set(c, (reclaimed.get(c) ?? 0) + 1);
    }
  }
  return { recorded, reclaimed };
}

describe('node-agent killed with SIGKILL and restarted', () => {
  const COUNT = 3000;

  it('keeps every acknowledged create; retried creates leave one record each', async () => {
    let agent = await startAgent();
    try {
      expect(await (await AgentClient.connect(socket(), AGENT_CLIENT_OPTIONS)).send({ op: 'grace_start' })).toMatchObject({ status: 'OK' });
      const acked = await stormAndKill(agent, 'create', COUNT, 800);
      expect(acked.size).toBeGreaterThan(0);
      agent = await startAgent();
      const c = await AgentClient.connect(socket(), AGENT_CLIENT_OPTIONS);
      const lost = [];
      for (const x of acked) if ((await c.send({ op: 'check', client: x })).status !== 'OK') lost.push(x);
      expect(lost).toEqual([]);
      // nfsd retries whatever got no answer; a create already stored appends nothing.
      const retried = await Promise.all(Array.from({ length: COUNT }, (_, i) => c.send({ op: 'create', client: client(i) })));
      expect(retried.filter((r) => r.status !== 'OK')).toEqual([]);
      const { recorded } = await recordedCounts();
      expect([...recorded.values()].filter((n) => n !== 1)).toEqual([]);
      expect(recorded.size).toBe(COUNT);
      c.close();
    } finally {
      await agent.kill('SIGKILL');
    }
  });

  it('keeps every acknowledged reclaim across a kill during a reclaim storm', async () => {
    let agent = await startAgent();
    try {
      const c0 = await AgentClient.connect(socket(), AGENT_CLIENT_OPTIONS);
      // A new grace period: the clients created above must reclaim.
      expect(await c0.send({ op: 'grace_done', wait: false })).toMatchObject({ status: 'OK' });
      expect(await c0.send({ op: 'grace_start' })).toMatchObject({ status: 'OK', reclaimable: COUNT });
      c0.close();
      const acked = await stormAndKill(agent, 'reclaim', COUNT, 800);
      expect(acked.size).toBeGreaterThan(0);
      const { reclaimed } = await recordedCounts();
      expect([...acked].filter((x) => !reclaimed.has(x))).toEqual([]);
      agent = await startAgent();
      const c = await AgentClient.connect(socket(), AGENT_CLIENT_OPTIONS);
      const status = await c.send({ op: 'status' });
      expect((status as unknown as { records: { current: number } }).records.current).toBeGreaterThanOrEqual(acked.size);
      const retried = await Promise.all(Array.from({ length: COUNT }, (_, i) => c.send({ op: 'reclaim', client: client(i) })));
      expect(retried.filter((r) => r.status !== 'OK')).toEqual([]);
      const after = await c.send({ op: 'status' });
      expect(after).toMatchObject({ records: { current: COUNT, reclaimable: 0 } });
      c.close();
    } finally {
      await agent.kill('SIGKILL');
    }
  });
});
