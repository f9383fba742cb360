/**
 * Fail closed on lost history (issue 10, item 4): a process never starts a fresh log in place of
 * a missing stream, and refuses a cluster whose history was truncated.
 */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { subjects } from '#contracts';
import { eventStreamConfig, StreamMissing, TruncatedHistory } from '#event-store';
import { cleanupStream, testNatsUrl, testStreamNames } from '#testing';
import { executeOnce, LiveClusterView, loadCluster, openGraceStore } from './index';

let admin: NatsConnection;
let jsm: JetStreamManager;
const production = { GK_DEV_MODE: '0' };

beforeAll(async () => {
  admin = await connect({ servers: testNatsUrl() });
  jsm = await jetstreamManager(admin);
});
afterAll(async () => {
  await admin.close();
});

describe('fail closed', () => {
  it('outside development mode a missing stream is StreamMissing, and no stream is created', async () => {
    const names = testStreamNames('fc_missing');
    const opening = openGraceStore({ natsUrl: testNatsUrl(), names, name: 'fc', environment: production });
    await expect(opening).rejects.toBeInstanceOf(StreamMissing);
    await expect(jsm.streams.info(names.stream)).rejects.toThrow(/not found/);
    // The explicit ways: GK_CREATE_STREAM=1, or provision (gracectl init/add).
    const created = await openGraceStore({ natsUrl: testNatsUrl(), names, name: 'fc', environment: { ...production, GK_CREATE_STREAM: '1' } });
    try {
      expect((await jsm.streams.info(names.stream)).config).toMatchObject({ deny_delete: true, deny_purge: true });
      expect(created.startupNotes[0]).toMatchObject({ level: 'warn', text: expect.stringMatching(/WARNING: no NATS credentials/) });
    } finally {
      await created.close();
      await cleanupStream(admin, names);
    }
  });

  it('a cluster whose first messages were purged is refused by every reader (TruncatedHistory)', async () => {
    const names = testStreamNames('fc_truncated');
    // An old stream that still allowed purges: the truncation this guards against.
    await jsm.streams.add({ ...eventStreamConfig(names), deny_purge: false });
    const opened = await openGraceStore({ natsUrl: testNatsUrl(), names, name: 'fc', environment: production });
    try {
      for (const command of [{ type: 'add', nodes: ['a'] }, { type: 'start', nodes: ['a'] }, { type: 'add', nodes: ['b'] }] as const) {
        await executeOnce(opened.store, names, 'c', { ...command, nodes: [...command.nodes] }, { actor: 't' });
      }
      expect(opened.startupNotes).toContainEqual({ level: 'warn', text: expect.stringMatching(/deny_purge is off/) });
      const subject = subjects.cluster(names, 'c');
      const last = await opened.store.currentVersion(subject);
      await jsm.streams.purge(names.stream, { filter: subject, keep: 1 });
      await expect(loadCluster(opened.store, names, 'c')).rejects.toBeInstanceOf(TruncatedHistory);
      await expect(LiveClusterView.open(opened.store, names, 'c')).rejects.toThrow(new RegExp(`history of ${subject} was truncated: its first stored message \\(sequence ${last}\\)`));
      // Nothing can be decided on it either.
      await expect(executeOnce(opened.store, names, 'c', { type: 'lift', nodes: ['a'] }, { actor: 't' })).rejects.toBeInstanceOf(TruncatedHistory);
    } finally {
      await opened.close();
      await cleanupStream(admin, names);
    }
  });
});
