/**
 * The reference for create/check latency: nfs-utils' `nfsdcltrack` from Debian's
 * nfs-kernel-server (test/support/nfsdcltrack.ts fetches it), run the way the kernel runs it:
 * one process per upcall on its SQLite store, timed from spawn to exit.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findNfsdcltrack } from '#testing';
import { REPO_ROOT } from '../scripts/system';
import { percentile } from './report';
import { benchClient } from './harness';

export interface CltrackReference {
  create?: { p50: number; p99: number };
  check?: { p50: number; p99: number };
  /** Why there is no measurement (not root, no apt source, nfsd running here). */
  skipped?: string;
  runs: number;
  binary?: string;
}

/** Runs one process to its end; how long it took (ms, wall clock) and its exit code. */
export function timeProcess(cmd: string, args: string[], env: Record<string, string>): Promise<{ ms: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: Number(process.hrtime.bigint() - start) / 1e6, code }));
  });
}

export async function measureNfsdcltrack(runs: number): Promise<CltrackReference> {
  const found = findNfsdcltrack(join(REPO_ROOT, '.tmp', 'nfsdcltrack'));
  if ('skipReason' in found) return { skipped: found.skipReason, runs: 0 };
  const dir = mkdtempSync(join(tmpdir(), 'gk-bench-cltrack-'));
  const store = join(dir, 'store');
  const boot = String(Math.floor(Date.now() / 1000));
  const env = { NFSDCLTRACK_CLIENT_HAS_SESSION: 'Y', NFSDCLTRACK_GRACE_START: boot };
  try {
    const init = await timeProcess(found.path, ['-s', store, 'init'], env);
    if (init.code !== 0) return { skipped: `nfsdcltrack init exited ${init.code}`, runs: 0 };
    const series = async (op: 'create' | 'check') => {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const r = await timeProcess(found.path, ['-s', store, op, benchClient('cltrack', i)], env);
        if (r.code !== 0) throw new Error(`nfsdcltrack ${op} exited ${r.code}`);
        times.push(r.ms);
      }
      times.sort((a, b) => a - b);
      return { p50: percentile(times, 50), p99: percentile(times, 99) };
    };
    const create = await series('create');
    const check = await series('check');
    return { create, check, runs, binary: found.path };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
