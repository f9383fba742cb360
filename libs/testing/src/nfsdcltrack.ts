/**
 * The real nfsdcltrack from Debian's nfs-kernel-server, for side-by-side tests of gk-cltrack
 * and the node-agent. The package is downloaded and unpacked into a cache directory, never
 * installed: `apt-get download` + `dpkg-deb -x`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

export type NfsdcltrackLocation = { path: string } | { skipReason: string };

const REPO_ROOT = resolve(__dirname, '..', '..', '..');
export const DEFAULT_NFSDCLTRACK_CACHE = join(REPO_ROOT, '.tmp', 'nfsdcltrack');
/** nfsdcltrack writes "Y" here when it thinks grace may end; on a host running nfsd that is real. */
const NFSD_END_GRACE = '/proc/fs/nfsd/v4_end_grace';
/** nfsdcld imports, and at its first gracedone deletes, the records of an nfsdcltrack found here. */
const SYSTEM_CLTRACK_STORE = '/var/lib/nfs/nfsdcltrack';

type Program = 'nfsdcltrack' | 'nfsdcld';
const cached = new Map<Program, NfsdcltrackLocation>();

/**
 * Finds or fetches nfsdcltrack. Order: $NFSDCLTRACK_BIN, an installed /sbin or /usr/sbin
 * copy, the cache, then a fresh download. Returns a reason instead of a path when it cannot
 * run here safely (not root, nfsd running, a library missing, no apt).
 */
export function findNfsdcltrack(cacheDir = DEFAULT_NFSDCLTRACK_CACHE): NfsdcltrackLocation {
  return find('nfsdcltrack', cacheDir);
}

/** nfsdcld from the same package ($NFSDCLD_BIN first), for byte-level checks of libs/cld. */
export function findNfsdcld(cacheDir = DEFAULT_NFSDCLTRACK_CACHE): NfsdcltrackLocation {
  if (existsSync(SYSTEM_CLTRACK_STORE)) return { skipReason: `${SYSTEM_CLTRACK_STORE} exists: nfsdcld would import and later delete its records` };
  return find('nfsdcld', cacheDir);
}

function find(program: Program, cacheDir: string): NfsdcltrackLocation {
  const memo = cacheDir === DEFAULT_NFSDCLTRACK_CACHE ? cached.get(program) : undefined;
  if (memo) return memo;
  const found = locate(program, cacheDir);
  if (cacheDir === DEFAULT_NFSDCLTRACK_CACHE) cached.set(program, found);
  return found;
}

function locate(program: Program, cacheDir: string): NfsdcltrackLocation {
  // Both drop their capability bounding set first; without CAP_SETPCAP nfsdcltrack exits 255 on every command.
  if (process.getuid?.() !== 0) return { skipReason: `${program} must run as root (it drops capabilities before any command)` };
  if (existsSync(NFSD_END_GRACE)) {
    return { skipReason: `nfsd is running here (${NFSD_END_GRACE} exists): ${program} would act on its grace period` };
  }
  const override = program === 'nfsdcltrack' ? process.env.NFSDCLTRACK_BIN : process.env.NFSDCLD_BIN;
  const candidates = [override, `/sbin/${program}`, `/usr/sbin/${program}`, ...unpackedPaths(program, cacheDir)];
  let path = candidates.find((p): p is string => !!p && existsSync(p));
  if (!path) {
    const fetched = fetchPackage(program, cacheDir);
    if ('skipReason' in fetched) return fetched;
    path = fetched.path;
  }
  const missing = missingLibraries(path);
  if (missing.length > 0) return { skipReason: `${path} needs libraries that are not installed: ${missing.join(', ')}` };
  return { path };
}

function unpackedPaths(program: Program, cacheDir: string): string[] {
  return [join(cacheDir, 'root', 'sbin', program), join(cacheDir, 'root', 'usr', 'sbin', program)];
}

/** Downloads and unpacks into a private directory first, so parallel workers never see half a tree. */
function fetchPackage(program: Program, cacheDir: string): NfsdcltrackLocation {
  mkdirSync(cacheDir, { recursive: true });
  const work = mkdtempSync(join(cacheDir, 'fetch-'));
  try {
    if (!download(work)) {
      // A fresh machine may have no package lists yet.
      if (!runQuietly('apt-get', ['update', '-qq'], cacheDir) || !download(work)) {
        return { skipReason: 'apt-get download nfs-kernel-server failed (no Debian package source reachable?)' };
      }
    }
    const deb = readdirSync(work).find((f) => f.startsWith('nfs-kernel-server_') && f.endsWith('.deb'));
    if (!deb || !runQuietly('dpkg-deb', ['-x', deb, 'root'], work)) return { skipReason: 'dpkg-deb could not unpack nfs-kernel-server' };
    if (!existsSync(join(cacheDir, 'root'))) {
      try {
        renameSync(join(work, 'root'), join(cacheDir, 'root'));
      } catch {
        // another worker won the race; its tree is as good as ours
      }
    }
    const path = unpackedPaths(program, cacheDir).find((p) => existsSync(p));
    return path ? { path } : { skipReason: `nfs-kernel-server has no ${program} in sbin or usr/sbin` };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function download(dir: string): boolean {
  return runQuietly('apt-get', ['download', '-qq', 'nfs-kernel-server'], dir);
}

function runQuietly(cmd: string, args: string[], cwd: string): boolean {
  const r = spawnSync(cmd, args, { cwd, stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return r.status === 0;
}

/** Libraries `ldd` cannot resolve (libsqlite3 and libcap on Debian 12). */
export function missingLibraries(binary: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  } catch (e) {
    return [`ldd failed: ${(e as Error).message}`];
  }
  return out
    .split('\n')
    .filter((line) => line.includes('not found'))
    .map((line) => line.trim().split(/\s/)[0]!);
}

/**
 * Runs nfsdcltrack on a SQLite store directory and returns its exit status. The environment
 * holds only what is passed, as when the kernel runs it (NFSDCLTRACK_* variables).
 */
export function runNfsdcltrack(storeDir: string, args: readonly string[], env: Record<string, string> = {}): number {
  const where = findNfsdcltrack();
  if ('skipReason' in where) throw new Error(`nfsdcltrack is not available: ${where.skipReason}`);
  const r = spawnSync(where.path, ['-s', storeDir, ...args], { env, stdio: 'ignore', timeout: 30_000 });
  if (r.error) throw r.error;
  if (r.status === null) throw new Error(`nfsdcltrack was killed by ${r.signal}`);
  return r.status;
}

/**
 * Command sequences with the exit codes the real nfsdcltrack gives (Debian 12, nfs-utils
 * 2.6.2; see docs/nfsdcltrack-semantics.md). A one-node cluster of gk-cltrack + node-agent
 * must give the same codes. `{T}` in an argument or variable stands for the current boot time.
 */
export type CltrackStep =
  /** One invocation; args after `-s DIR`. */
  | { run: string[]; env?: Record<string, string>; exit: number }
  /** nfsd restarts: wait into the next wall-clock second, which becomes {T}. Records touched before are older than T. */
  | { reboot: true };

export interface CltrackScenario {
  name: string;
  steps: CltrackStep[];
}

const V40 = { NFSDCLTRACK_CLIENT_HAS_SESSION: 'N' };
const V41 = { NFSDCLTRACK_CLIENT_HAS_SESSION: 'Y' };
const boot = { NFSDCLTRACK_GRACE_START: '{T}' };
const run = (args: string[], exit: number, env?: Record<string, string>): CltrackStep => ({ run: args, exit, ...(env ? { env } : {}) });
const reboot: CltrackStep = { reboot: true };

export const NFSDCLTRACK_SCENARIOS: readonly CltrackScenario[] = [
  {
    name: 'bad invocations (no storage access needed)',
    steps: [
      run([], 234),
      run(['frobnicate'], 218),
      run(['create'], 234),
      run(['check', 'zz'], 234),
      run(['check', '012'], 234),
      run(['create', '00'.repeat(1025)], 151),
      run(['gracedone', 'abc'], 234),
      run(['gracedone', '99999999999999999999'], 222),
      run(['-h'], 1),
      run(['-x', 'init'], 1),
      run(['gracedone', '-1'], 1),
    ],
  },
  {
    name: 'first boot: records are checkable at once and survive a grace period that began before them',
    steps: [
      run(['init'], 0, boot),
      run(['create', '0a01'], 0, { ...V40, ...boot }),
      run(['create', '0b01'], 0, { ...V41, ...boot }),
      run(['check', '0a01'], 0, V40),
      run(['check', '0b01'], 0, V41),
      run(['check', '0c01'], 255, V40),
      run(['gracedone', '{T}'], 0),
      run(['check', '0a01'], 0, V40),
      run(['check', '0b01'], 0, V41),
    ],
  },
  {
    name: 'reboot: a v4.0 client reclaims by check, a v4.1 client by create (RECLAIM_COMPLETE); the rest are dropped',
    steps: [
      run(['init'], 0, boot),
      run(['create', '0a01'], 0, V40),
      run(['create', '0a02'], 0, V40),
      run(['create', '0b01'], 0, V41),
      run(['create', '0b02'], 0, V41),
      reboot,
      run(['init'], 0, boot),
      run(['check', '0a01'], 0, V40),
      run(['check', '0b01'], 0, V41),
      run(['create', '0b01'], 0, { ...V41, ...boot }),
      run(['check', '0b02'], 0, V41),
      run(['gracedone', '{T}'], 0),
      run(['check', '0a01'], 0, V40),
      run(['check', '0b01'], 0, V41),
      run(['check', '0b02'], 255, V41),
      run(['check', '0a02'], 255, V40),
    ],
  },
  {
    name: 'reboot during grace: what was reclaimed must be reclaimed again; what was not is still reclaimable',
    steps: [
      run(['init'], 0, boot),
      run(['create', '0a01'], 0, V40),
      run(['create', '0a02'], 0, V40),
      run(['create', '0b01'], 0, V41),
      run(['create', '0b02'], 0, V41),
      reboot,
      run(['init'], 0, boot),
      run(['check', '0a01'], 0, V40),
      run(['create', '0b01'], 0, { ...V41, ...boot }),
      reboot,
      run(['init'], 0, boot),
      run(['check', '0a02'], 0, V40),
      run(['gracedone', '{T}'], 0),
      run(['check', '0a01'], 255, V40),
      run(['check', '0a02'], 0, V40),
      run(['check', '0b01'], 255, V41),
      run(['check', '0b02'], 255, V41),
    ],
  },
  {
    name: 'a client created during grace is not a reclaim but is kept',
    steps: [
      run(['init'], 0, boot),
      run(['create', '0f01'], 0, { ...V41, ...boot }),
      run(['gracedone', '{T}'], 0),
      run(['check', '0f01'], 0, V41),
    ],
  },
  {
    name: 'remove, also of unknown clients',
    steps: [
      run(['init'], 0, boot),
      run(['create', '0e01'], 0, V40),
      run(['remove', '0e01'], 0),
      run(['check', '0e01'], 255, V40),
      run(['remove', '0e01'], 0),
      run(['remove', '0e02'], 0),
    ],
  },
  {
    name: 'empty and maximal client IDs',
    steps: [
      run(['init'], 0, boot),
      run(['create', ''], 0, V40),
      run(['check', ''], 0, V40),
      run(['create', 'ff'.repeat(1024)], 0, V41),
      run(['check', 'FF'.repeat(1024)], 0, V41),
    ],
  },
];

export type CltrackRunner = (args: string[], env: Record<string, string>) => number | Promise<number>;

/** Plays a scenario through `runner`; returns every step with the exit code it got. */
export async function playScenario(scenario: CltrackScenario, runner: CltrackRunner): Promise<Array<{ step: string; expected: number; got: number }>> {
  const results: Array<{ step: string; expected: number; got: number }> = [];
  let bootTime = Math.floor(Date.now() / 1000);
  const fill = (s: string) => s.replaceAll('{T}', String(bootTime));
  for (const step of scenario.steps) {
    if ('reboot' in step) {
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
      bootTime = Math.floor(Date.now() / 1000);
      continue;
    }
    const args = step.run.map(fill);
    const env = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, fill(v)]));
    const got = await runner(args, env);
    const shown = args.map((a) => (a.length > 16 ? `${a.slice(0, 8)}…(${a.length})` : a)).join(' ');
    results.push({ step: `${Object.entries(env).map(([k, v]) => `${k}=${v} `).join('')}${shown}`, expected: step.exit, got });
  }
  return results;
}
