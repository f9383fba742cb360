import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { StreamNames } from '#contracts';
import { executeOnce, historyStart, loadCluster, openGraceStore, setRetention, type OpenedStore } from '#cluster-store';
import { TruncatedHistory } from '#event-store';
import { cleanupStream, testDatabaseUrl, testNatsUrl, testStreamNames } from '#testing';
import { runGracectl } from './cli';

/**
 * `gracectl audit --events` and `replay` on a log whose beginning is gone, against the real
 * JetStream: dropped by a retention an operator set (recorded), audit reads from where history
 * starts and says so; truncated with no retention recorded, it refuses, as every full reader does
 * (fail closed). Replay refuses both: the read model it would replace is all that holds the rest.
 */
jest.setTimeout(90_000);
let admin: NatsConnection;
let jsm: JetStreamManager;
const streams: StreamNames[] = [];

async function gracectl(names: StreamNames, ...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runGracectl(['--prefix', names.prefix, '--cluster', 'c1', ...argv], {}, {
    stdout: (t) => { stdout += t; },
    stderr: (t) => { stderr += t; },
    open: (natsUrl, ctx) => openGraceStore({ natsUrl, names: ctx.names, name: 'gracectl-test', onSnapshotProblem: () => undefined }),
  });
  return { code, stdout, stderr };
}

/** Cluster c1 with node a and eight clients recorded one decision each; then three decisions kept. */
async function trimmedCluster(label: string, trim: (names: StreamNames) => Promise<void>): Promise<{ names: StreamNames; opened: OpenedStore }> {
  const names = testStreamNames(label);
  streams.push(names);
  const opened = await openGraceStore({ natsUrl: testNatsUrl(), names, name: label, onSnapshotProblem: () => undefined });
  await executeOnce(opened.store, names, 'c1', { type: 'add', nodes: ['a'] }, { actor: 't' });
  for (let i = 0; i < 8; i++) await executeOnce(opened.store, names, 'c1', { type: 'create', node: 'a', clients: [{ client: `0${i}` }] }, { actor: 'a' });
  await trim(names);
  // The server trims a subject to its limit as the next message arrives.
  await executeOnce(opened.store, names, 'c1', { type: 'create', node: 'a', clients: [{ client: '99' }] }, { actor: 'a' });
  return { names, opened };
}

beforeAll(async () => {
  admin = await connect({ servers: testNatsUrl() });
  jsm = await jetstreamManager(admin);
});

afterAll(async () => {
  for (const names of streams) await cleanupStream(admin, names);
  await admin.close();
});

describe('gracectl audit --events on a log that lost its beginning', () => {
  it('after a recorded retention: reads from where history starts and says so', async () => {
    const setAt = new Date('2026-11-30T12:00:00.000Z');
    const { names, opened } = await trimmedCluster('audit_retained', (n) => setRetention(jsm, n, 3, setAt));
    try {
      const start = await historyStart(jsm, names, 'c1');
      expect(start).toMatchObject({ keep: 3, complete: false, retention: { keep: 3, setAt } });
      const notice = `history starts at sequence ${start.firstSequence}, ${start.firstTime!.toISOString()}; ` +
        'earlier events were dropped by the retention set on 2026-11-30T12:00:00.000Z (keep the last 3 decisions of each cluster); ' +
        `the first kept decision (sequence ${start.firstSequence}) links to a dropped one and is not shown`;

      const text = await gracectl(names, 'audit', '--node', 'a', '--events');
      expect(text).toMatchObject({ code: 0, stderr: '' });
      expect(text.stdout.split('\n')[1]).toBe(notice);
      expect(text.stdout).toContain('99');
      const json = await gracectl(names, 'audit', '--node', 'a', '--events', '--json');
      expect(JSON.parse(json.stdout)).toMatchObject({ source: 'the events', notice });
      const replay = await gracectl(names, 'replay', '--database-url', testDatabaseUrl());
      expect(replay).toMatchObject({ code: 1, stdout: '' });
      expect(replay.stderr).toContain(`Failure: replay refused: the event log no longer holds every cluster's whole history, and the read model it would replace does:\n  cluster c1: ${notice.split('; the first kept')[0]}\n`);

      // Services still refuse a full replay (no snapshot covers the dropped part), and `off` keeps the record.
      await expect(loadCluster(opened.store, names, 'c1')).rejects.toBeInstanceOf(TruncatedHistory);
      await setRetention(jsm, names, -1, new Date('2026-12-01T00:00:00.000Z'));
      expect((await historyStart(jsm, names, 'c1')).retention).toEqual({ keep: 3, setAt, offSince: new Date('2026-12-01T00:00:00.000Z') });
      expect((await gracectl(names, 'audit', '--node', 'a', '--events')).stdout).toContain('(keep the last 3 decisions of each cluster; off since 2026-12-01T00:00:00.000Z)');
    } finally {
      await opened.close();
    }
  });

  it('truncated with no retention recorded: refused (fail closed)', async () => {
    const { names, opened } = await trimmedCluster('audit_truncated', async (n) => {
      // A limit set behind gracectl's back: nothing records it.
      const info = await jsm.streams.info(n.stream);
      await jsm.streams.update(n.stream, { ...info.config, max_msgs_per_subject: 3 });
    });
    try {
      expect((await historyStart(jsm, names, 'c1')).retention).toBeUndefined();
      const run = await gracectl(names, 'audit', '--node', 'a', '--events');
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^Failure: the history of .*\.cluster\.c1 was truncated: its first stored message \(sequence \d+, first event ClientRecorded\)/);
      expect((await gracectl(names, 'retention')).stdout).toMatch(/earlier events are missing and no retention was recorded: the history was truncated/);
      expect((await gracectl(names, 'replay', '--database-url', testDatabaseUrl())).stderr).toMatch(/replay refused: .*\n  cluster c1: history starts at sequence \d+, .*; earlier events are missing and no retention was recorded/);
    } finally {
      await opened.close();
    }
  });
});
