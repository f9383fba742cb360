#!/usr/bin/env node
// Builds the compiled gk-cltrack (native/gk-cltrack/*.c, libc only) with the system C compiler
// ($CC, else cc) and installs it as bin/gk-cltrack, the program nfsd runs per upcall (~1 ms to
// start instead of Node's ~45 ms). Without a compiler, or if the result does not run,
// bin/gk-cltrack becomes a link to bin/gk-cltrack.js, the Node one: same arguments, environment
// and exit codes (test/fuzz/targets/gk-cltrack-native.ts), only slower to start. Run by `npm ci`
// (prepare → build:native). Plain JS: it runs before anything is compiled.
'use strict';
const { spawnSync } = require('node:child_process');
const { mkdirSync, renameSync, rmSync, symlinkSync, copyFileSync, chmodSync } = require('node:fs');
const path = require('node:path');

const here = __dirname;
const sources = ['gk-cltrack.c', 'commands.c', 'paths.c', 'agent-socket.c', 'json-reply.c'].map((f) => path.join(here, f));
const output = path.join(here, 'build', 'gk-cltrack');
// Where it is installed: the repository's bin/, or the directory given (tests).
const installed = path.join(process.argv[2] ?? path.join(here, '..', '..', 'bin'), 'gk-cltrack');
const flags = ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong', '-fPIE', '-pie'];

/** Puts `make` at bin/gk-cltrack through a temporary name, so that a running nfsd never sees half a file. */
function install(make) {
  const temporary = `${installed}.${process.pid}`;
  rmSync(temporary, { force: true });
  make(temporary);
  renameSync(temporary, installed);
}

function fallBack(why) {
  process.stderr.write(`\nWARNING: the compiled gk-cltrack (native/gk-cltrack) was not built: ${why}\n`
    + 'bin/gk-cltrack is the Node one (bin/gk-cltrack.js): same behaviour, ~45 ms to start instead of ~1 ms.\n'
    + 'Install a C compiler (apt-get install gcc) and run npm run build:native to build it.\n\n');
  install((t) => symlinkSync('gk-cltrack.js', t));
}

function build() {
  if (process.platform !== 'linux') return fallBack(`it is written for Linux (this is ${process.platform})`);
  const cc = process.env.CC || 'cc';
  mkdirSync(path.dirname(output), { recursive: true });
  // Through a temporary name as well: tests may be running the previous build.
  const fresh = `${output}.${process.pid}`;
  const compile = spawnSync(cc, [...flags, '-o', fresh, ...sources, '-lm'], { encoding: 'utf8' });
  if (compile.error || compile.status !== 0) rmSync(fresh, { force: true });
  if (compile.error) return fallBack(`${cc}: ${compile.error.message}`);
  if (compile.status !== 0) return fallBack(`${cc} exited ${compile.status ?? compile.signal}:\n${compile.stderr.split('\n').slice(0, 12).join('\n')}`);
  renameSync(fresh, output);
  // It must run here: --help prints the usage and exits 1, as nfsdcltrack does.
  const probe = spawnSync(output, ['--help'], { encoding: 'utf8', env: {} });
  if (probe.status !== 1 || !probe.stdout.startsWith('Usage: gk-cltrack ')) return fallBack(`the built program does not run (--help exited ${probe.status ?? probe.signal})`);
  install((t) => {
    copyFileSync(output, t);
    chmodSync(t, 0o755);
  });
}

build();
