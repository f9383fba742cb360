/**
 * Test helper, not a test: in-process agents on the jest run's NATS for one test file. One
 * stream (removed after the file), one shared store connection, and agents with JSON clients,
 * all stopped after the file. Call at the top level of the file (it registers beforeAll/afterAll).
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { openGraceStore, type OpenedStore } from '#cluster-store';
import { AGENT_CLIENT_OPTIONS, cleanupStream, testNatsUrl, testStreamNames } from '#testing';
import { AgentClient } from '#agent-client';
import { startTestAgent, type TestAgent } from './in-process';

export interface AgentsOnNats {
  readonly names: ReturnType<typeof testStreamNames>;
  /** The shared store connection (open between beforeAll and afterAll). */
  readonly opened: OpenedStore;
  /** The agents running now; one a test stops itself is taken out of this list. */
  readonly started: TestAgent[];
  /** A new agent for `node` (serving `identities`, default its node) with a JSON client on its socket. */
  agent(cluster: string, node: string, identities?: string[]): Promise<{ a: TestAgent; c: AgentClient }>;
}

export function agentsOnNats(label: string): AgentsOnNats {
  const names = testStreamNames(label);
  let admin: NatsConnection;
  let opened: OpenedStore | undefined;
  const started: TestAgent[] = [];
  const clients: AgentClient[] = [];
  beforeAll(async () => {
    admin = await connect({ servers: testNatsUrl() });
    opened = await openGraceStore({ natsUrl: testNatsUrl(), names, name: `${label}-test` });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    for (const a of started) await a.stop();
    await opened?.close();
    await cleanupStream(admin, names);
    await admin.close();
  });
  return {
    names,
    get opened() {
      if (!opened) throw new Error('agentsOnNats: the store opens in beforeAll');
      return opened;
    },
    started,
    async agent(cluster, node, identities) {
      const a = await startTestAgent({ natsUrl: testNatsUrl(), names, cluster, node, identities, store: this.opened });
      started.push(a);
      const c = await AgentClient.connect(a.jsonPath, AGENT_CLIENT_OPTIONS);
      clients.push(c);
      return { a, c };
    },
  };
}
