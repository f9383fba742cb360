/**
 * `gracectl dump` during a reclaim storm (issue 13): while bench/storm.ts runs its cluster-wide
 * restart, gracectl dump runs again and again (one after the other, each a fresh process, as an
 * operator or a script would), and its wall time is recorded. Target p99 ≤ 200 ms. gracectl loads
 * the cluster from the grace-coordinator's latest snapshot and folds the tail.
 */
import { execFile } from 'node:child_process';
import { appMain, APPS } from '../scripts/system';
import type { BenchSystem } from './harness';
import { CLUSTER } from './harness';
import { BenchResult, failed, percentile, result } from './report';

export class DumpSampler {
  readonly times: number[] = [];
  readonly failures: string[] = [];
  private running = false;
  private loop?: Promise<void>;

  constructor(private readonly b: BenchSystem, private readonly natsUrl: string) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const t0 = performance.now();
        const error = await this.dumpOnce();
        if (error) this.failures.push(error);
        else this.times.push(performance.now() - t0);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private dumpOnce(): Promise<string | undefined> {
    const args = [appMain(APPS.gracectl), '--nats', this.natsUrl, '--prefix', this.b.names.prefix, '--cluster', CLUSTER, 'dump'];
    return new Promise((resolve) => {
      execFile(process.execPath, args, { timeout: 30_000 }, (err, _stdout, stderr) => resolve(err ? `${err.message} ${stderr}`.trim() : undefined));
    });
  }
}

export function dumpResults(sampler: DumpSampler | undefined, size: string, why?: string): BenchResult[] {
  const name = `gracectl dump during the storm, p99 (${size})`;
  if (!sampler || sampler.times.length === 0) return [failed(name, 'ms', '<=', 200, why ?? `no dump finished (${sampler?.failures[0] ?? 'not run'})`)];
  const sorted = [...sampler.times].sort((x, y) => x - y);
  const p50 = percentile(sorted, 50);
  const note = `${sampler.times.length} dumps one after another, each a fresh gracectl process (Node start included), p50 ${p50.toFixed(0)} ms` +
    (sampler.failures.length ? `; ${sampler.failures.length} failed: ${sampler.failures[0]}` : '');
  return [result(name, percentile(sorted, 99), 'ms', '<=', 200, { note })];
}
