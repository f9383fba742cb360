/**
 * grace_done while the lift rule blocks the lift (SPEC §2: nothing happens while some member
 * lacks ENFORCING): the agent's waiter lifts again as soon as its view shows the lift would take
 * effect, and answers once the grace period has ended. In-process agent on real NATS.
 */
import { loadCluster } from '#cluster-store';
import type { AdminCommand } from '#domain';
import { AGENT_CLIENT_OPTIONS, testNatsUrl, TestStream } from '#testing';
import { AgentClient } from '#agent-client';
import { startTestAgent, type TestAgent } from '../test/in-process';

jest.setTimeout(60_000);
const stream = new TestStream('agentlift');
const { names } = stream;
let agent: TestAgent | undefined;
let client: AgentClient | undefined;

beforeAll(() => stream.open({ store: 'agent-lift-test' }));
afterAll(async () => {
  await client?.close();
  await agent?.stop();
  await stream.close();
});

const admin = (cluster: string, command: AdminCommand) => stream.admin(cluster, command);

it('grace_done waits while a member does not enforce, and lifts as soon as every member does', async () => {
  const cluster = 'lift-blocked';
  await admin(cluster, { type: 'add', nodes: ['a', 'b'] });
  await admin(cluster, { type: 'noenforce', nodes: ['b'] });
  agent = await startTestAgent({ natsUrl: testNatsUrl(), names, cluster, node: 'a', store: stream.opened });
  client = await AgentClient.connect(agent.jsonPath, AGENT_CLIENT_OPTIONS);
  expect(await client.send({ op: 'grace_start' })).toMatchObject({ status: 'OK', recoveryEpoch: 1, inGrace: true });

  let answered = false;
  const done = client.send({ op: 'grace_done' }).finally(() => { answered = true; });
  await new Promise((r) => setTimeout(r, 500));
  const blocked = (await loadCluster(stream.opened.store, names, cluster)).state;
  expect(blocked.recoveryEpoch).toBe(1);
  expect(blocked.members.get('a')?.need).toBe(true); // the lift changed nothing
  expect(answered).toBe(false);

  await admin(cluster, { type: 'enforce', nodes: ['b'] });
  expect(await done).toMatchObject({ status: 'OK', ended: true, recoveryEpoch: 0 });
  const ended = (await loadCluster(stream.opened.store, names, cluster)).state;
  expect(ended.lastGraceEnd).toMatchObject({ recoveryEpoch: 1, reason: 'all-reclaimed' });
});
