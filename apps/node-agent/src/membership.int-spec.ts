/**
 * Membership is the operator's (issue 10, item 4): without --auto-join the agent never creates
 * its cluster and its grace_start never re-adds a node. Regression of soak seed 777610, where an
 * in-flight grace_start of a node appended after `remove` re-added it with NEED and grace never
 * ended: the grace_start now loses the race with NOT_MEMBER and the cluster's grace ends.
 */
import type { AnyRequest } from '#contracts';
import { loadCluster } from '#cluster-store';
import type { AdminCommand } from '#domain';
import { testNatsUrl, TestStream } from '#testing';
import { startTestAgent, type TestAgent } from '../test/in-process';

jest.setTimeout(60_000);
const stream = new TestStream('agentmember');
const { names } = stream;
const agents: TestAgent[] = [];

beforeAll(() => stream.open({ store: 'agent-membership-test' }));
afterAll(async () => {
  for (const a of agents) await a.stop();
  await stream.close();
});

const admin = (cluster: string, command: AdminCommand) => stream.admin(cluster, command);
const start = async (cluster: string, node: string) => {
  const agent = await startTestAgent({ natsUrl: testNatsUrl(), names, cluster, node, store: stream.opened, autoJoin: false });
  agents.push(agent);
  return agent;
};
const graceStart = (a: TestAgent) => a.core.service.handle({ op: 'grace_start' } as AnyRequest);

it('does not create a missing cluster: the refusal says how to create it', async () => {
  const a = await start('nocluster', 'a');
  const reply = await a.core.service.handle({ op: 'create', client: '0a0b' } as AnyRequest);
  expect(reply).toMatchObject({ status: 'NFS4ERR_DELAY', error: expect.stringMatching(/cluster nocluster does not exist: add it with `gracectl --cluster nocluster add a`/) });
  expect((await loadCluster(stream.opened.store, names, 'nocluster')).state.exists).toBe(false);
});

it('a grace_start after the node was removed does not bring it back, and grace ends (seed 777610)', async () => {
  const cluster = 'removed';
  await admin(cluster, { type: 'add', nodes: ['a', 'b'] });
  const b = await start(cluster, 'b');
  expect(await graceStart(b)).toMatchObject({ status: 'OK', recoveryEpoch: 1 });
  // The operator removes b (it will never come back); grace ends since no remaining member needs it.
  await admin(cluster, { type: 'remove', nodes: ['b'] });
  // A grace_start of b still in flight, decided after the remove.
  const late = await graceStart(b);
  expect(late).toMatchObject({ status: 'NFS4ERR_DELAY', error: expect.stringMatching(/node b is not a member of cluster removed/) });
  const { state } = await loadCluster(stream.opened.store, names, cluster);
  expect([...state.members.keys()]).toEqual(['a']);
  expect(state.recoveryEpoch).toBe(0);
});

it('with --auto-join the same grace_start adds the node (development mode)', async () => {
  const cluster = 'autojoin';
  const agent = await startTestAgent({ natsUrl: testNatsUrl(), names, cluster, node: 'c', store: stream.opened, autoJoin: true });
  agents.push(agent);
  expect(await graceStart(agent)).toMatchObject({ status: 'OK' });
  expect([...(await loadCluster(stream.opened.store, names, cluster)).state.members.keys()]).toEqual(['c']);
});
