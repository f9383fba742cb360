import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Tests that run the compiled programs (`node dist/apps/<app>/src/main.js`) call `ensureBuilt`
 * in `beforeAll`: it compiles the project once, when `dist/` is missing or older than any
 * source file, and is safe to call from every jest worker at once (a lock directory serialises
 * the build; the others wait and then find it fresh).
 */

export const ROOT = resolve(__dirname, '..', '..', '..');
const STAMP = join(ROOT, 'dist', '.gk-build-stamp');
const LOCK = join(ROOT, 'dist', '.gk-build-lock');
// scripts/ too: tests load dist/scripts (the system launcher and the console's browser driver).
const SOURCE_DIRS = ['apps', 'libs', 'scripts'];
const TEST_FILE = /\.(spec|int-spec|e2e-spec|test)\.ts$/;
/** A lock older than this belongs to a build that died. */
const STALE_LOCK_MS = 5 * 60_000;

/** Absolute path of a compiled app's entry point, e.g. `distMain('gracectl')`. */
export function distMain(app: string): string {
  return join(ROOT, 'dist', 'apps', app, 'src', 'main.js');
}

/** Builds the project unless every `entries` file exists and the last build is newer than every source. */
export async function ensureBuilt(entries: string[], log: (line: string) => void = (l) => process.stderr.write(`[build] ${l}\n`)): Promise<void> {
  if (isFresh(entries)) return copyWebAssets();
  await withLock(async () => {
    if (isFresh(entries)) return copyWebAssets(); // another worker built it while we waited
    const startedAt = Date.now();
    log('compiling (tsc -p tsconfig.build.json) for tests that run dist/ ...');
    const result = await tsc();
    const missing = entries.filter((e) => !existsSync(e) || statSync(e).mtimeMs < startedAt - 1000);
    if (missing.length > 0) throw new Error(`build did not produce ${missing.join(', ')}:\n${result.output}`);
    // tsc still emits when some file has a type error (another part of the tree being edited):
    // the programs under test were produced, so go on, but say so.
    if (result.code !== 0) log(`tsc reported errors (outputs were emitted):\n${result.output}`);
    mkdirSync(join(ROOT, 'dist'), { recursive: true });
    writeFileSync(STAMP, `${new Date(startedAt).toISOString()}\n${RUN}\n`);
    utimesSync(STAMP, startedAt / 1000, startedAt / 1000);
    copyWebAssets();
  });
}

/** The console's static files beside the compiled coordinator, as `npm run build` does (cheap: always). */
function copyWebAssets(): void {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'copy-web-assets.js')], { stdio: 'pipe' });
}

/** The jest process of this run: workers' parent, or this process when running in band. */
const RUN = String(process.env.JEST_WORKER_ID ? process.ppid : process.pid);

function isFresh(entries: string[]): boolean {
  if (!existsSync(STAMP) || !entries.every((e) => existsSync(e))) return false;
  // Built once in this jest run: do not rebuild under programs other test files are running,
  // even if someone edits a source meanwhile.
  if (readFileSync(STAMP, 'utf8').split('\n')[1] === RUN) return true;
  const built = statSync(STAMP).mtimeMs;
  return newestSource() <= built;
}

function newestSource(): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(path);
      } else if (entry.name.endsWith('.ts') && !TEST_FILE.test(entry.name)) {
        newest = Math.max(newest, statSync(path).mtimeMs);
      }
    }
  };
  for (const dir of SOURCE_DIRS) if (existsSync(join(ROOT, dir))) walk(join(ROOT, dir));
  for (const file of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) newest = Math.max(newest, statSync(join(ROOT, file)).mtimeMs);
  return newest;
}

function tsc(): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      done({ code, output: `${stdout}${stderr}`.trim() });
    });
  });
}

async function withLock(fn: () => Promise<void>): Promise<void> {
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // it went away between the two calls: try again
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
