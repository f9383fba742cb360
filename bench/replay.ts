/**
 * Rebuilding the client-registry's read model from 1,000,000 events (SPEC §5: ≥ 100,000 events/s).
 *
 * 1. Generates the events into a fresh stream: a deterministic workload of real decisions
 *    (libs/projection/src/workload.ts) over four clusters, published pipelined. To publish a
 *    million events quickly, consecutive decisions of a cluster are packed into one message
 *    (`--per-message`, default 20 events): applying a message applies its events in order, so
 *    the state is the same as with one decision per message. Events are counted as the SPEC
 *    means them, one per event in the messages (a ClientRecorded naming 4 clients is one event),
 *    and the report gives events/s and messages/s.
 * 2. Runs `gracectl replay` (dist/apps/gracectl) on it, which prints its progress on stderr and
 *    its count and rate, and reports that rate.
 *
 * Events name 1 to 8 clients each (`--clients-per-event`), as group commits merge one to several
 * requests depending on load.
 *
 * Standalone: `node dist/bench/replay.js [--events N] [--per-message K] [--clients-per-event C] [--keep]`; from the
 * benchmark run: `npm run bench -- --only replay` (bench/replay-rate.ts calls runReplayBench).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { encodeDecision, streamNames, subjects, type DecisionMessage, type GkEvent } from '#contracts';
import { openGraceStore } from '#cluster-store';
import { createTestDatabase, dropDatabase, ensureNats, ensurePostgres, randomToken, uniquePrefix } from '#infra';
import { Workload } from '#testing';
import { deleteStream, type BenchContext } from './harness';
import { failed, result, type BenchResult } from './report';

const NAME = 'read-model rebuild (replay) from 1,000,000 events';
const TARGET = 100_000;
const ROOT = resolve(__dirname, '..', '..');

export interface ReplayBenchOptions {
  events: number;
  perMessage: number;
  clusters: number;
  /** Most clients one event names (group commits merge 1 to this many requests). */
  clientsPerEvent?: number;
  keep?: boolean;
}

export interface ReplayBenchFigures {
  events: number;
  messages: number;
  publishMs: number;
  replay: { events: number; messages: number; eventsPerSecond: number; messagesPerSecond: number; elapsedMs: number; generation: number };
}

export async function runReplayBench(ctx: BenchContext): Promise<BenchResult[]> {
  const events = ctx.quick ? 100_000 : 1_000_000;
  try {
    const f = await replayBench(ctx, { events, perMessage: 20, clusters: 4 });
    const note = `${f.replay.events.toLocaleString('en-US')} events (1-8 clients each) in ${f.replay.messages.toLocaleString('en-US')} messages ` +
      `(${(f.events / f.messages).toFixed(1)} events/message); ${Math.round(f.replay.messagesPerSecond).toLocaleString('en-US')} messages/s; ` +
      `gracectl replay took ${(f.replay.elapsedMs / 1000).toFixed(1)} s including indexes and swap; ` +
      `generated and published in ${(f.publishMs / 1000).toFixed(1)} s`;
    return [result(ctx.quick ? NAME.replace('1,000,000', events.toLocaleString('en-US')) : NAME, f.replay.eventsPerSecond, 'events/s', '>=', TARGET, { note })];
  } catch (err) {
    return [failed(NAME, 'events/s', '>=', TARGET, `failed: ${(err as Error).message}`)];
  }
}

export async function replayBench(ctx: BenchContext, options: ReplayBenchOptions): Promise<ReplayBenchFigures> {
  const names = streamNames(uniquePrefix('bench_replay'));
  const database = await createTestDatabase(ctx.postgresUrl, `gk_bench_replay_${randomToken(4)}`);
  const opened = await openGraceStore({ natsUrl: ctx.natsUrl, names, name: 'bench-replay', provision: true });
  try {
    ctx.log(`  · generating ${options.events.toLocaleString('en-US')} events (${options.perMessage} per message, ${options.clusters} clusters) into ${names.stream}`);
    const t0 = performance.now();
    const published = await publishEvents(opened.nc, names, options, (done) => ctx.log(`  · published ${done.toLocaleString('en-US')} events`));
    const publishMs = performance.now() - t0;
    ctx.log(`  · ${published.events.toLocaleString('en-US')} events in ${published.messages.toLocaleString('en-US')} messages published in ${(publishMs / 1000).toFixed(1)} s`);
    const replay = await runGracectlReplay(ctx, names.prefix, database.url);
    return { events: published.events, messages: published.messages, publishMs, replay };
  } finally {
    if (!options.keep) await deleteStream(opened, names).catch(() => undefined);
    await opened.close();
    if (!options.keep) await dropDatabase(ctx.postgresUrl, database.name).catch(() => undefined);
    else ctx.log(`  · kept stream ${names.stream} (prefix ${names.prefix}) and database ${database.url}`);
  }
}

async function publishEvents(nc: Parameters<typeof jetstream>[0], names: ReturnType<typeof streamNames>, options: ReplayBenchOptions, onProgress: (events: number) => void) {
  const js = jetstream(nc, { timeout: 30_000 });
  const workloads = Array.from({ length: options.clusters }, (_, i) => new Workload({
    cluster: `bench-${i}`, seed: 1000 + i, nodes: 4, clientsPerNode: 5000, batch: options.clientsPerEvent ?? 8, restartOdds: 0.05,
  }));
  let events = 0;
  let messages = 0;
  // Every cluster message must link to its subject's previous one (readers skip it otherwise).
  // Nothing else writes to this private stream while it is seeded, so each publish's sequence is
  // known in advance and the pipeline can carry the expectations; a wrong guess fails loudly (10071).
  const base = (await (await js.jetstreamManager()).streams.info(names.stream)).state.last_seq;
  const lastOf = new Map<string, number>();
  let inflight: Promise<unknown>[] = [];
  let reported = 0;
  for (let turn = 0; events < options.events; turn++) {
    const w = workloads[turn % workloads.length]!;
    const cluster = `bench-${turn % workloads.length}`;
    const batch: GkEvent[] = [];
    while (batch.length < options.perMessage && events + batch.length < options.events) {
      const d = w.next();
      batch.push(...d.events.slice(0, options.events - events - batch.length));
    }
    const message: DecisionMessage = { kind: 'gk.decision', v: 1, id: `bench-${cluster}-${messages}`, events: batch };
    const sequence = base + messages + 1;
    inflight.push(js.publish(subjects.cluster(names, cluster), encodeDecision(message), { msgID: message.id, expect: { lastSubjectSequence: lastOf.get(cluster) ?? 0 } }));
    lastOf.set(cluster, sequence);
    events += batch.length;
    messages += 1;
    if (inflight.length >= 1000) {
      await Promise.all(inflight);
      inflight = [];
    }
    if (events - reported >= 200_000) {
      reported = events;
      onProgress(events);
    }
  }
  await Promise.all(inflight);
  return { events, messages };
}

/** Runs `gracectl replay --json` as an operator would, relaying its progress lines. */
function runGracectlReplay(ctx: BenchContext, prefix: string, databaseUrl: string): Promise<ReplayBenchFigures['replay']> {
  const main = join(ROOT, 'dist', 'apps', 'gracectl', 'src', 'main.js');
  if (!existsSync(main)) return Promise.reject(new Error(`${main} is missing: run npm run build`));
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [main, 'replay', '--json', '--prefix', prefix, '--nats', ctx.natsUrl, '--database-url', databaseUrl], {
      // A long replay must not be cut short by gracectl's watchdog for one-shot commands.
      env: { ...process.env, GK_GRACECTL_TIMEOUT_MS: String(3_600_000) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const lines = err.split('\n');
      err = lines.pop()!;
      for (const line of lines) if (line.trim()) ctx.log(`  · ${line.trim()}`);
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`gracectl replay exited ${code}: ${err.trim() || out.trim()}`));
      try {
        const r = JSON.parse(out) as ReplayBenchFigures['replay'];
        ctx.log(`  · gracectl replay: ${r.events.toLocaleString('en-US')} events, ${Math.round(r.eventsPerSecond).toLocaleString('en-US')} events/s, ${Math.round(r.messagesPerSecond).toLocaleString('en-US')} messages/s`);
        resolvePromise(r);
      } catch {
        reject(new Error(`gracectl replay printed no JSON result: ${out.slice(0, 200)}`));
      }
    });
  });
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const value = (name: string, fallback: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const log = (line: string) => process.stdout.write(`${line}\n`);
  void (async () => {
    const nats = await ensureNats({ log });
    const postgres = await ensurePostgres({ log });
    try {
      const f = await replayBench({ natsUrl: nats.url, postgresUrl: postgres.url, quick: false, log }, {
        events: value('events', 1_000_000), perMessage: value('per-message', 20), clusters: value('clusters', 4),
        clientsPerEvent: value('clients-per-event', 8), keep: args.includes('--keep'),
      });
      log(JSON.stringify(f, null, 2));
    } finally {
      await postgres.stop();
      await nats.stop();
    }
  })().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
