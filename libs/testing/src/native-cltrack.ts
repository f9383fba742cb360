/**
 * The compiled gk-cltrack (native/gk-cltrack, built by `npm ci` into native/gk-cltrack/build and
 * installed as bin/gk-cltrack), run as nfsd runs it: a process per call with the given argv and
 * nothing but the given environment.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The checkout's root, from the sources (libs/testing/src) or the compiled tree (dist/libs/testing/src). */
function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export const NATIVE_CLTRACK = join(repoRoot(), 'native', 'gk-cltrack', 'build', 'gk-cltrack');

/** Throws, saying how to build it, when the compiled gk-cltrack is missing. */
export function requireNativeCltrack(): string {
  if (!existsSync(NATIVE_CLTRACK)) throw new Error(`${NATIVE_CLTRACK} is missing: run npm run build:native (it needs a C compiler)`);
  return NATIVE_CLTRACK;
}

export interface NativeCltrackRun {
  /** The exit status; -1 when a signal ended it. */
  code: number;
  stdout: string;
  stderr: string;
}

/** Asynchronous, so that an agent in the calling process can answer it. */
export function runNativeCltrack(args: readonly string[], env: Record<string, string>, argv0 = '/usr/sbin/gk-cltrack'): Promise<NativeCltrackRun> {
  return new Promise((done, fail) => {
    const child = spawn(requireNativeCltrack(), args, { argv0, env });
    const out = { stdout: '', stderr: '' };
    child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, ...out }));
  });
}
