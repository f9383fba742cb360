/**
 * What every benchmark piece shares: the context from bench/run.ts, a private system (own stream
 * prefix, own run directory, own database) that is cleaned up afterwards, agent connections,
 * memory readings and a progress line.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { streamNames, StreamNames } from '#contracts';
import { cleanupStream } from '#testing';
import { openGraceStore, OpenedStore } from '#cluster-store';
import { createTestDatabase, dropDatabase, randomToken, uniquePrefix } from '#infra';
import { AgentClient } from '#agent-client';
import type { AgentReply } from '#contracts';
import { lastRecordsText } from '../scripts/log-follow';
import { REPO_ROOT, System, SystemOptions } from '../scripts/system';

export interface BenchContext {
  natsUrl: string;
  /** The PostgreSQL server (its own database); pieces create and drop their own databases. */
  postgresUrl: string;
  quick: boolean;
  log: (line: string) => void;
}

export const CLUSTER = 'bench';

export interface BenchSystem {
  system: System;
  names: StreamNames;
  opened: OpenedStore;
  databaseUrl?: string;
  cleanup(): Promise<void>;
}

/**
 * Starts a private system for one piece: `nodes` node-agents, optionally the client-registry (with
 * a fresh database) and the grace-coordinator, on a stream prefix nobody else uses.
 */
export async function benchSystem(
  ctx: BenchContext,
  label: string,
  options: { nodes: string[]; registry?: boolean; coordinator?: boolean; env?: Record<string, string>; addMembers?: boolean; agentsServeAll?: boolean },
): Promise<BenchSystem> {
  const prefix = uniquePrefix(`bench_${label}`);
  const names = streamNames(prefix);
  const runDir = join(REPO_ROOT, '.tmp', 'bench', `${label}-${randomToken(3)}`);
  const database = options.registry ? await createTestDatabase(ctx.postgresUrl, `gk_bench_${label}_${randomToken(4)}`) : undefined;
  const opened = await openGraceStore({ natsUrl: ctx.natsUrl, names, name: `bench-${label}`, provision: true });
  const crashes: string[] = [];
  const systemOptions: SystemOptions = {
    natsUrl: ctx.natsUrl,
    databaseUrl: database?.url,
    prefix,
    cluster: CLUSTER,
    nodes: options.nodes,
    runDir,
    adminToken: randomToken(16),
    withCoordinator: options.coordinator ?? false,
    addMembers: options.addMembers ?? true,
    agentsServeAll: options.agentsServeAll,
    env: options.env,
    log: () => undefined,
    onUnexpectedExit: (service, status) => {
      crashes.push(`${service.name} exited (${String(status)}); log ${service.logFile}:\n${lastRecordsText(service.name, service.logFile)}`);
      ctx.log(`  ! ${crashes[crashes.length - 1]}`);
    },
  };
  const system = new System(systemOptions);
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await system.stop().catch(() => undefined);
    await deleteStream(opened, names).catch((err: unknown) => ctx.log(`  ! could not delete stream ${names.stream}: ${(err as Error).message}`));
    await opened.close().catch(() => undefined);
    if (database) await dropDatabase(ctx.postgresUrl, database.name).catch((err: unknown) => ctx.log(`  ! could not drop database ${database.name}: ${(err as Error).message}`));
    if (crashes.length === 0) rmSync(runDir, { recursive: true, force: true });
    else ctx.log(`  ! logs kept in ${runDir}`);
  };
  try {
    await system.start();
  } catch (err) {
    ctx.log(`  ! logs kept in ${runDir}`);
    crashes.push('start failed');
    await cleanup();
    throw err;
  }
  return { system, names, opened, databaseUrl: database?.url, cleanup };
}

/** Deletes the piece's event stream and its snapshot bucket (the tests' clean-up). */
export async function deleteStream(opened: Pick<OpenedStore, 'nc'>, names: StreamNames): Promise<void> {
  await cleanupStream(opened.nc, names);
}

/** The stream's last sequence, over every subject (the store's lastSequence takes one subject). */
export async function streamLastSequence(b: Pick<BenchSystem, 'opened' | 'names'>): Promise<number> {
  const jsm = await jetstreamManager(b.opened.nc);
  return (await jsm.streams.info(b.names.stream)).state.last_seq;
}

/** Runs `fn` with a private system and always cleans up. */
export async function withBenchSystem<T>(ctx: BenchContext, label: string, options: Parameters<typeof benchSystem>[2], fn: (b: BenchSystem) => Promise<T>): Promise<T> {
  const b = await benchSystem(ctx, label, options);
  try {
    return await fn(b);
  } finally {
    await b.cleanup();
  }
}

/** Several pipelined connections to one agent, used round-robin. */
export class AgentPool {
  private next = 0;
  private constructor(readonly node: string, private readonly clients: AgentClient[]) {}

  static async open(node: string, socket: string, connections: number): Promise<AgentPool> {
    const clients = await Promise.all(Array.from({ length: connections }, () => AgentClient.connect(socket, { defaultTimeoutMs: 120_000, connectTimeoutMs: 10_000 })));
    return new AgentPool(node, clients);
  }

  /** Answers of NFS4ERR_DELAY ("the event store was slow, retry") that were retried. */
  delays = 0;

  /** One request; NFS4ERR_DELAY is retried as an NFS server would (counted in `delays`). */
  async request(op: string, fields: Record<string, unknown> = {}, timeoutMs?: number): Promise<AgentReply> {
    for (let attempt = 1; ; attempt++) {
      const client = this.clients[this.next++ % this.clients.length]!;
      const reply = await client.request(op, fields, { timeoutMs });
      if (reply.status !== 'NFS4ERR_DELAY' || attempt >= 50) return reply;
      this.delays++;
      await new Promise((r) => setTimeout(r, Math.min(100, 5 * attempt)));
    }
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}

/** Resident set size of a process in MB (10^6 bytes, as SPEC §5 states its limit; Linux /proc), or NaN. */
export function rssMB(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
    return (kb * 1024) / 1e6;
  } catch {
    return NaN;
  }
}

/** Runs `worker` over 0..count-1 with at most `concurrency` in flight. */
export async function forEachConcurrent(count: number, concurrency: number, worker: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) await worker(next++);
  });
  await Promise.all(lanes);
}

/**
 * A one-line progress display: rewritten in place on a terminal, a line every few seconds
 * otherwise (CI logs).
 */
export class Progress {
  private lastPrint = 0;
  private lastLength = 0;
  private readonly tty = !!process.stdout.isTTY;

  constructor(private readonly label: string) {}

  update(text: string, force = false): void {
    const now = Date.now();
    if (!force && now - this.lastPrint < (this.tty ? 100 : 5000)) return;
    this.lastPrint = now;
    const line = `  ${this.label}: ${text}`;
    if (this.tty) {
      process.stdout.write(`\r${line.padEnd(this.lastLength)}`);
      this.lastLength = line.length;
    } else {
      process.stdout.write(`${line}\n`);
    }
  }

  done(text: string): void {
    if (this.tty && this.lastLength) process.stdout.write(`\r${' '.repeat(this.lastLength)}\r`);
    this.lastLength = 0;
    process.stdout.write(`  ${this.label}: ${text}\n`);
  }
}

/** A bar like `[########........] 45%`. */
export function bar(done: number, total: number, width = 24): string {
  const fraction = total === 0 ? 1 : Math.min(1, done / total);
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor(fraction * 100)}%`;
}

/** An NFS client owner string as Linux writes it, as the lowercase hex the agent wants. */
export function benchClient(label: string, index: number): string {
  return Buffer.from(`Linux NFSv4.1 ${label}-client-${String(index).padStart(6, '0')}.bench.example`, 'utf8').toString('hex');
}
