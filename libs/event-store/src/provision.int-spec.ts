import { DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { subjects } from '#contracts';
import { openTestNats, type TestNats } from '../test/support';
import { eventStreamConfig, provisionStream, requireStream, StreamMissing } from './provision';

describe('provisionStream', () => {
  let t: TestNats;
  beforeAll(async () => {
    t = await openTestNats('provision');
  });
  afterAll(async () => {
    await t.close();
  });

  it('creates the event stream, and a second call changes nothing', async () => {
    const first = await provisionStream(t.jsm, t.names);
    const second = await provisionStream(t.jsm, t.names);
    expect(second.created).toEqual(first.created);
    const c = second.config;
    expect(c.subjects).toEqual([subjects.all(t.names)]);
    expect(c.storage).toBe(StorageType.File);
    expect(c.retention).toBe(RetentionPolicy.Limits);
    expect(c.discard).toBe(DiscardPolicy.New);
    expect([c.max_msgs, c.max_bytes, c.max_age, c.max_msgs_per_subject]).toEqual([-1, -1, 0, -1]);
    expect(c.deny_delete).toBe(true);
    expect(c.deny_purge).toBe(true);
    expect(c.duplicate_window).toBe(nanos(120_000));
  });

  it('is safe when several processes provision at once', async () => {
    const racers = await Promise.all(Array.from({ length: 6 }, () => openTestNats('provision_race')));
    const names = racers[0].names;
    try {
      const infos = await Promise.all(racers.map((r) => provisionStream(r.jsm, names)));
      expect(new Set(infos.map((i) => i.created)).size).toBe(1);
    } finally {
      await racers[0].close();
      await Promise.all(racers.slice(1).map((r) => r.nc.close()));
    }
  });

  it('brings a drifted stream back to the event-stream settings', async () => {
    const drifted = await openTestNats('provision_drift');
    try {
      const base = eventStreamConfig(drifted.names);
      await drifted.jsm.streams.add({ ...base, deny_delete: false, deny_purge: false, discard: DiscardPolicy.Old, max_msgs: 1000, duplicate_window: nanos(10_000) });
      const info = await provisionStream(drifted.jsm, drifted.names, { duplicateWindowMs: 60_000 });
      expect(info.config.deny_delete).toBe(true);
      expect(info.config.deny_purge).toBe(true);
      await expect(drifted.jsm.streams.purge(drifted.names.stream)).rejects.toThrow(/purge not permitted/);
      expect(info.config.discard).toBe(DiscardPolicy.New);
      expect(info.config.max_msgs).toBe(-1);
      expect(info.config.duplicate_window).toBe(nanos(60_000));
    } finally {
      await drifted.close();
    }
  });

  it('refuses to adopt a stream whose retention would delete events', async () => {
    const wrong = await openTestNats('provision_wq');
    try {
      await wrong.jsm.streams.add({ ...eventStreamConfig(wrong.names), retention: RetentionPolicy.Workqueue });
      await expect(provisionStream(wrong.jsm, wrong.names)).rejects.toThrow(/retention/);
    } finally {
      await wrong.close();
    }
  });

  it('requireStream never creates: a missing stream is a clear error, a weak one is reported', async () => {
    const probe = await openTestNats('provision_require');
    try {
      await expect(requireStream(probe.jsm, probe.names)).rejects.toBeInstanceOf(StreamMissing);
      await expect(requireStream(probe.jsm, probe.names)).rejects.toThrow(/gracectl init.*--create-stream/);
      await expect(probe.jsm.streams.info(probe.names.stream)).rejects.toThrow(/not found/);
      await probe.jsm.streams.add({ ...eventStreamConfig(probe.names), deny_purge: false });
      expect((await requireStream(probe.jsm, probe.names)).weaknesses).toEqual(['deny_purge is off: the stream can be purged']);
      await provisionStream(probe.jsm, probe.names);
      expect((await requireStream(probe.jsm, probe.names)).weaknesses).toEqual([]);
    } finally {
      await probe.close();
    }
  });
});
