/**
 * The durability trade-off, measured (issue 10 item 8; docs/operations.md "Durability"):
 * conditional appends (the floor under every create and reclaim) on a single server (R1) and on a
 * 3-node loopback cluster (R3), and the cost of one fsync on this machine's disk, which is what a
 * server syncing every message (`sync_interval: always`, nats-server ≥ 2.10; 2.9.10 refuses the
 * option) would add to each append. Run: `npm run bench:durability` (N=… for more appends).
 */
import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { natsServers, streamNames, subjects } from '#contracts';
import { JetStreamEventStore, provisionStream, type MessageCodec } from '#event-store';
import { startNatsCluster, startNatsServer, uniquePrefix } from '#infra';

const N = Number(process.env.N ?? 2000);
interface Note { id: string }
const codec: MessageCodec<Note> = {
  encode: (m) => Buffer.from(JSON.stringify(m)),
  decode: (d) => ({ ok: true, value: JSON.parse(Buffer.from(d).toString()) as Note }),
  idOf: (m) => m.id,
};

function percentiles(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const p = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(2);
  return `p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, ${(1000 / (ms.reduce((a, b) => a + b, 0) / ms.length)).toFixed(0)} /s one writer`;
}

async function appends(url: string, replicas: number): Promise<string> {
  const nc = await connect({ servers: natsServers(url) });
  const names = streamNames(uniquePrefix(`dur_r${replicas}`));
  await provisionStream(await jetstreamManager(nc), names, { replicas });
  const store = new JetStreamEventStore<Note>({ nc, names, codec });
  const subject = subjects.cluster(names, 'bench');
  let version = 0;
  const times: number[] = [];
  for (let i = 0; i < N + 100; i++) {
    const t = performance.now();
    version = (await store.appendToStream(subject, { id: randomUUID() }, { expectedVersion: version })).nextExpectedVersion;
    if (i >= 100) times.push(performance.now() - t); // the first 100 warm up
  }
  await (await jetstreamManager(nc)).streams.delete(names.stream).catch(() => undefined);
  await nc.close();
  return percentiles(times);
}

function fsyncs(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gk-fsync-'));
  const fd = openSync(join(dir, 'f'), 'w');
  const block = Buffer.alloc(512, 1);
  const times: number[] = [];
  for (let i = 0; i < Math.min(N, 500); i++) {
    const t = performance.now();
    writeSync(fd, block);
    fsyncSync(fd);
    times.push(performance.now() - t);
  }
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  return percentiles(times);
}

async function main(): Promise<void> {
  const single = await startNatsServer();
  try {
    console.log(`R1, one server (file store, default sync):  ${await appends(single.url, 1)}`);
  } finally {
    await single.stop();
  }
  const cluster = await startNatsCluster({ size: 3 });
  try {
    console.log(`R3, 3-node loopback cluster:                ${await appends(cluster.url, 3)}`);
  } finally {
    await cluster.stop();
  }
  console.log(`write 512 B + fsync on ${tmpdir()}'s disk:     ${fsyncs()}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
