import { SECRET_VARIABLES } from '../../libs/service-kit/src/secrets';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

/** Helpers of the deploy checks (test/deploy): files of the repository and the tools they need. */

export const ROOT = resolve(__dirname, '..', '..');

export function repoFile(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

/** Every YAML document of a file (Kubernetes manifests hold several). */
export function yamlDocuments(path: string): unknown[] {
  return repoFile(path).split(/^---\s*$/m).map((d) => parse(d) as unknown).filter((d) => d !== null && d !== undefined);
}

export function yamlFile<T = Record<string, unknown>>(path: string): T {
  return parse(repoFile(path)) as T;
}

/**
 * The absolute path of a tool the deploy checks run, or an Error that says how to install it.
 * A missing tool FAILS the test: CI installs them (.ci/run), so an absent one is a broken setup.
 */
export function requireTool(name: string, debianPackage: string): string {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/usr/sbin', '/bin', '/sbin'])) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  throw new Error(`${name} is not installed: apt-get install -y ${debianPackage} (.ci/run does this when it is missing)`);
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (no shell), with its exit code instead of a throw. */
export function run(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<ToolResult> {
  return new Promise((resolvePromise) => {
    execFile(file, args, { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : (err as { status?: number }).status ?? 1) : 0;
      resolvePromise({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Metric names the services register (gauges, counters, ...), read from their sources. */
export function registeredMetricNames(): Set<string> {
  const sources = [
    'apps/grace-coordinator/src/coordinator-metrics.ts',
    'apps/client-registry/src/registry-metrics.ts',
    'apps/node-agent/src/admin/admin.module.ts',
  ];
  const names = new Set<string>();
  for (const source of sources) {
    for (const m of repoFile(source).matchAll(/(?:name:\s*|gauge\()\s*'(gk_[a-z0-9_]+)'/g)) names.add(m[1]!);
  }
  return names;
}

/**
 * Every setting the programs read: the GK_*, NATS_URL and DATABASE_URL names in their sources
 * (config schemas, process.env reads), plus the entry point's secret files. A variable set by a
 * deployment artifact and found nowhere here is a typo or a setting that does nothing.
 */
export function knownVariables(): Set<string> {
  const names = new Set<string>(['NODE_ENV']);
  const visit = (dir: string): void => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) { if (entry.name !== 'test' && entry.name !== 'testing') visit(path); continue; }
      if (!/\.(ts|js)$/.test(entry.name) || /\.(spec|int-spec|e2e-spec|test)\.ts$/.test(entry.name)) continue;
      for (const m of repoFile(path).matchAll(/\b(GK_[A-Z0-9_]+|NATS_URL|DATABASE_URL)\b/g)) names.add(m[1]!);
    }
  };
  for (const dir of ['apps', 'libs', 'deploy/runtime']) visit(dir);
  for (const secret of SECRET_VARIABLES) names.add(`${secret}_FILE`);
  return names;
}
