import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { streamNames } from '#contracts';
import { provisionStream } from '#event-store';
import { natsServers, startNatsCluster, uniquePrefix, type NatsCluster } from '#infra';
import { openGraceStore } from './connect';

// Issue 10 item 8: on a clustered NATS system the event stream is R3 unless told otherwise, and a
// single-replica stream there is announced loudly.
describe('durability on a 3-node JetStream cluster', () => {
  let cluster: NatsCluster;
  beforeAll(async () => {
    cluster = await startNatsCluster({ size: 3 });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('creates the event stream with 3 replicas by default, without a warning', async () => {
    const names = streamNames(uniquePrefix('dur_r3'));
    const warnings: string[] = [];
    const opened = await openGraceStore({ natsUrl: cluster.url, names, name: 'durability-test', warn: (m) => warnings.push(m) });
    try {
      const info = await (await jetstreamManager(opened.nc)).streams.info(names.stream);
      expect(info.config.num_replicas).toBe(3);
      expect(warnings).toEqual([]);
    } finally {
      await opened.close();
    }
  }, 60_000);

  it('leaves an existing R1 stream as the operator made it, and warns loudly', async () => {
    const names = streamNames(uniquePrefix('dur_r1'));
    const nc = await connect({ servers: natsServers(cluster.url) });
    await provisionStream(await jetstreamManager(nc), names, { replicas: 1 });
    await nc.close();
    const warnings: string[] = [];
    const opened = await openGraceStore({ natsUrl: cluster.url, names, name: 'durability-test', warn: (m) => warnings.push(m) });
    try {
      expect((await (await jetstreamManager(opened.nc)).streams.info(names.stream)).config.num_replicas).toBe(1);
      expect(warnings).toEqual([expect.stringMatching(/WARNING: event stream .* has 1 replica on a 3-server NATS cluster/)]);
    } finally {
      await opened.close();
    }
  }, 60_000);
});
