/**
 * Test helper, not a test: the node-agent as a real process (for kill -9, the cld pipe, and
 * differential runs). It is compiled from the sources into .tmp/agent-build/<hash of them>, so
 * tests never depend on a stale `npm run build`, and parallel test files share one build.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const REPO = resolve(__dirname, '..', '..', '..');
const BUILDS = join(REPO, '.tmp', 'agent-build');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (entry.endsWith('.ts') && !/\.(spec|int-spec|e2e-spec|test)\.ts$/.test(entry)) out.push(path);
  }
  return out;
}

let built: string | undefined;

/** Path of the compiled main.js of the agent (and of gk-cltrack beside it). */
export function buildAgent(): string {
  if (built) return built;
  const files = [...sources(join(REPO, 'apps', 'node-agent', 'src')), ...sources(join(REPO, 'apps', 'gk-cltrack', 'src')), ...sources(join(REPO, 'libs'))].sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(relative(REPO, f)).update(readFileSync(f));
  const dir = join(BUILDS, hash.digest('hex').slice(0, 16));
  const main = join(dir, 'dist', 'apps', 'node-agent', 'src', 'main.js');
  if (!existsSync(main)) {
    mkdirSync(BUILDS, { recursive: true });
    const work = mkdtempSync(join(BUILDS, 'building-'));
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const flags = ['--ignoreConfig', '--rootDir', REPO, '--outDir', join(work, 'dist'), '--module', 'nodenext', '--target', 'es2022', '--strict', '--skipLibCheck',
      '--types', 'node', '--experimentalDecorators', '--emitDecoratorMetadata', '--esModuleInterop'];
    execFileSync(process.execPath, [tsc, ...flags, join(REPO, 'apps', 'node-agent', 'src', 'main.ts'), join(REPO, 'apps', 'gk-cltrack', 'src', 'main.ts')], { stdio: 'pipe' });
    // "#contracts" etc. resolve through the package.json beside dist/, i.e. to this build.
    copyFileSync(join(REPO, 'package.json'), join(work, 'package.json'));
    try {
      renameSync(work, dir);
    } catch {
      rmSync(work, { recursive: true, force: true }); // another worker finished the same build first
    }
    pruneOldBuilds(dir);
  }
  built = main;
  return main;
}

/** Builds of older sources pile up as the code changes: keep the five newest. */
function pruneOldBuilds(keep: string): void {
  const builds = readdirSync(BUILDS)
    .filter((d) => !d.startsWith('building-'))
    .map((d) => ({ path: join(BUILDS, d), mtime: statSync(join(BUILDS, d)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const old of builds.slice(5)) if (old.path !== keep) rmSync(old.path, { recursive: true, force: true });
}

/** The compiled gk-cltrack of the same build. */
export function builtCltrack(): string {
  return join(buildAgent(), '..', '..', '..', 'gk-cltrack', 'src', 'main.js');
}

export interface AgentProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves once the agent logged `ready`. */
  ready: Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function spawnAgent(args: string[], env: Record<string, string> = {}): AgentProcess {
  const child = spawn(process.execPath, [buildAgent(), ...args], { env: { PATH: process.env.PATH ?? '', GK_DEV_MODE: '1', GK_AUTO_JOIN: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ready = new Promise<void>((resolveReady, reject) => {
    const onData = (d: Buffer) => {
      text += d.toString();
      if (/ ready: /.test(text)) resolveReady();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(() => reject(new Error(`agent exited before it was ready:\n${text}`)));
  });
  ready.catch(() => undefined);
  return {
    child,
    ready,
    output: () => text,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}
