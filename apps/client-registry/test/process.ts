import { ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { StreamNames } from '#contracts';
import { freePort } from '#infra';
import { distMain, ROOT } from '#testing';

/** A client-registry process started from dist/, as deployed. */
export interface RegistryProcess {
  replica: string;
  base: string;
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
  get(path: string): Promise<{ status: number; body: any }>;
}

export async function startRegistry(options: {
  replica: string; names: StreamNames; natsUrl: string; databaseUrl: string; token: string; env?: Record<string, string>;
}): Promise<RegistryProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [distMain('client-registry')], {
    env: {
      PATH: process.env.PATH, NATS_URL: options.natsUrl, GK_PREFIX: options.names.prefix, DATABASE_URL: options.databaseUrl,
      GK_ADMIN_PORT: String(port), GK_ADMIN_TOKEN: options.token, GK_REPLICA: options.replica, GK_QUIET: '1',
      GK_REGISTRY_LOCK_POLL_MS: '100', ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => { output += d; });
  child.stderr!.on('data', (d) => { output += d; });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = `http://127.0.0.1:${port}`;
  const p: RegistryProcess = {
    replica: options.replica, child, base, output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
    get: async (path) => {
      const r = await fetch(`${base}${path}`);
      return { status: r.status, body: await r.json().catch(() => undefined) };
    },
  };
  await until(`registry ${options.replica} to answer`, async () => {
    if (child.exitCode !== null) throw new Error(`registry ${options.replica} exited with ${child.exitCode}:\n${output}`);
    return (await fetch(`${base}/health/live`).then((r) => r.status, () => 0)) === 200;
  }, 60_000);
  return p;
}

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Run { code: number; stdout: string; stderr: string }

/** Runs bin/gracectl.js as an operator would. */
export function gracectl(names: StreamNames, natsUrl: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'bin', 'gracectl.js'), '--nats', natsUrl, '--prefix', names.prefix, ...args],
      { env: { PATH: process.env.PATH, ...env }, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
      });
  });
}
