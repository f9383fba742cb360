#!/usr/bin/env node
// The one entry point of every Gracekeeper deployment (the OCI image, the systemd units and the
// Kubernetes manifests): `gracekeeper <program> [args…]` runs the compiled program chosen by its
// first argument. Secrets given as files (GK_ADMIN_TOKEN_FILE, GK_READ_TOKEN_FILE,
// DATABASE_URL_FILE) are read by the services themselves (libs/service-kit secrets.ts), so that
// they never pass through this process's environment. Plain JS so that it needs no compiler.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');

/** Program name → compiled entry point (relative to the repository or image root). */
const PROGRAMS = {
  coordinator: 'dist/apps/grace-coordinator/src/main.js',
  registry: 'dist/apps/client-registry/src/main.js',
  'node-agent': 'dist/apps/node-agent/src/main.js',
  gracectl: 'dist/apps/gracectl/src/main.js',
  'gk-cltrack': 'dist/apps/gk-cltrack/src/main.js',
};
/** The services' own names are accepted too. */
const ALIASES = { 'grace-coordinator': 'coordinator', 'client-registry': 'registry', 'gk-node-agent': 'node-agent' };

/** Usage error: exit 2, as the services do for a bad configuration. */
const USAGE_EXIT = 2;

function usage() {
  return [
    'Usage: gracekeeper <program> [args…]',
    '',
    'Programs:',
    '  coordinator   grace-coordinator: deadlines, gracectl operations, REST admin',
    '  registry      client-registry: PostgreSQL read model, replay and audit (needs DATABASE_URL)',
    '  node-agent    one beside each NFS server (needs GK_NODE; --help for its options)',
    '  gracectl      the operator\'s tool (gracectl dump, status, add …)',
    '  gk-cltrack    drop-in for nfsdcltrack',
    '',
    'Secrets may be given as files: GK_ADMIN_TOKEN_FILE, GK_READ_TOKEN_FILE, DATABASE_URL_FILE.',
    '',
  ].join('\n');
}

/** The compiled entry point of `program`, or undefined when there is no such program. */
function programMain(program) {
  const name = ALIASES[program] ?? program;
  return Object.hasOwn(PROGRAMS, name) ? path.join(ROOT, PROGRAMS[name]) : undefined;
}

function main(argv) {
  const [program, ...args] = argv;
  if (program === undefined || program === 'help' || program === '--help' || program === '-h') {
    process.stdout.write(usage());
    process.exit(program === undefined ? USAGE_EXIT : 0);
  }
  const entry = programMain(program);
  if (!entry) {
    process.stderr.write(`gracekeeper: unknown program ${JSON.stringify(program)}\n\n${usage()}`);
    process.exit(USAGE_EXIT);
  }
  if (!fs.existsSync(entry)) {
    process.stderr.write(`gracekeeper: ${entry} is missing; run "npm run build" first\n`);
    process.exit(1);
  }
  // The program reads its own arguments from process.argv.slice(2), as when run directly.
  process.argv = [process.argv[0], entry, ...args];
  require(entry);
}

if (require.main === module) main(process.argv.slice(2));

module.exports = { PROGRAMS, ALIASES, programMain };
