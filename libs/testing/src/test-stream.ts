import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { StreamNames } from '#contracts';
import { executeOnce, openGraceStore, type OpenedStore } from '#cluster-store';
import type { AdminCommand } from '#domain';
import { cleanupStream, testNatsUrl, testStreamNames } from './env';

/**
 * One test file's own stream on the jest run's NATS: a connection (and, when asked, an opened
 * store) from `open` in beforeAll, and in afterAll `close` deletes the stream and closes both.
 *
 *   const stream = new TestStream('checker');
 *   beforeAll(() => stream.open());
 *   afterAll(() => stream.close());
 */
export class TestStream {
  readonly names: StreamNames;
  private connection?: NatsConnection;
  private store?: OpenedStore;

  constructor(label: string) {
    this.names = testStreamNames(label);
  }

  /** Connects; with `store`, also opens the grace store under that connection name. */
  async open(options: { store?: string } = {}): Promise<void> {
    this.connection = await connect({ servers: testNatsUrl() });
    if (options.store) this.store = await openGraceStore({ natsUrl: testNatsUrl(), names: this.names, name: options.store });
  }

  get nc(): NatsConnection {
    if (!this.connection) throw new Error('TestStream: open() it in beforeAll first');
    return this.connection;
  }

  get opened(): OpenedStore {
    if (!this.store) throw new Error('TestStream: open({ store }) it in beforeAll first');
    return this.store;
  }

  /** An admin command (actor `test`) that must be accepted. */
  async admin(cluster: string, command: AdminCommand): Promise<void> {
    const r = await executeOnce(this.opened.store, this.names, cluster, command, { actor: 'test' });
    if (!r.ok) throw new Error(`${command.type}: ${r.rejection.message}`);
  }

  async close(): Promise<void> {
    await this.store?.close();
    if (!this.connection) return;
    await cleanupStream(this.connection, this.names);
    await this.connection.close();
  }
}
