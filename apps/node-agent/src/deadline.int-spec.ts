/**
 * Issue 10 item 6 on the JSON socket: a request answered "retry later" is never decided
 * afterwards. Under `first-exit`, a `may_grant` answered NFS4ERR_GRACE at its deadline must never
 * append FirstNonReclaimGrant + GraceEnded once the store is back (on the old code it did: the
 * queued command was not withdrawn). A private nats-server is frozen with SIGSTOP.
 */
import { executeOnce, openGraceStore, type OpenedStore } from '#cluster-store';
import { subjects } from '#contracts';
import { startNatsServer, type NatsServer } from '#infra';
import { AGENT_CLIENT_OPTIONS, testStreamNames, waitUntil } from '#testing';
import { AgentClient } from '#agent-client';
import { startTestAgent, type TestAgent } from '../test/in-process';

const names = testStreamNames('deadline');
const CLUSTER = 'fx';
let nats: NatsServer;
let own: OpenedStore;
let agent: TestAgent;
let client: AgentClient;

beforeAll(async () => {
  nats = await startNatsServer();
  own = await openGraceStore({ natsUrl: nats.url, names, name: 'deadline-test' });
});
afterAll(async () => {
  await nats.kill('SIGCONT');
  client?.close();
  await agent?.stop();
  await own.close();
  await nats.stop();
});

it('first-exit: a may_grant answered GRACE at its deadline never ends grace afterwards', async () => {
  const admin = async (command: Parameters<typeof executeOnce>[3]) => {
    const r = await executeOnce(own.store, names, CLUSTER, command, { actor: 'test' });
    if (!r.ok) throw new Error(r.rejection.message);
  };
  await admin({ type: 'add', nodes: ['n1', 'n2'], config: { exitPolicy: 'first-exit', graceTimeMs: 200 } });
  await admin({ type: 'create', node: 'n2', clients: [{ client: 'bb02' }] });
  await admin({ type: 'start', nodes: ['n1', 'n2'] });
  agent = await startTestAgent({ natsUrl: nats.url, names, cluster: CLUSTER, node: 'n1', store: own, requestTimeoutMs: 1000 });
  client = await AgentClient.connect(agent.jsonPath, AGENT_CLIENT_OPTIONS);
  // n1 has nothing to recover; n2 still does, so only n1's own grace time holds it back.
  expect(await client.send({ op: 'grace_done', wait: false })).toMatchObject({ status: 'OK', ended: false });
  await new Promise((r) => setTimeout(r, 300)); // n1's grace time passes (monotonic)

  await nats.kill('SIGSTOP');
  const batchesBefore = agent.core.views.totalBatches;
  let createAnswered = false;
  const create = client.send({ op: 'create', client: 'aa01' }).then((r) => ((createAnswered = true), r));
  await waitUntil(() => agent.core.views.totalBatches > batchesBefore, 'the create to be taken into a batch');
  const grant = await client.send({ op: 'may_grant' });
  expect(grant).toMatchObject({ status: 'NFS4ERR_GRACE' });
  expect(grant.endedGrace).toBeUndefined();
  expect(createAnswered).toBe(false);
  await nats.kill('SIGCONT');
  expect(await create).toMatchObject({ status: 'OK' });

  // Give a late append every chance to land, then read the log.
  expect(await client.send({ op: 'hello' })).toMatchObject({ status: 'OK', inGrace: true });
  await new Promise((r) => setTimeout(r, 500));
  const { messages } = await own.store.readStream(subjects.cluster(names, CLUSTER));
  const types = messages.flatMap((m) => m.message.events.map((e) => e.type));
  expect(types).not.toContain('FirstNonReclaimGrant');
  expect(types).not.toContain('GraceEnded');
  expect(agent.core.view.state.recoveryEpoch).toBe(1);

  // The rule itself still lets n1 end recovery when asked with the store up.
  expect(await client.send({ op: 'may_grant' })).toMatchObject({ status: 'OK', endedGrace: true });
}, 60_000);
