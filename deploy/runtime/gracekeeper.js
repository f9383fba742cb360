#!/usr/bin/env node
// The one entry point of every Gracekeeper deployment (the OCI image, the systemd units and the
// Kubernetes manifests): `gracekeeper <program> [args…]` runs the compiled program chosen by its
// first argument, after reading the secrets it was given as files.
//
// Secrets as files: for each variable in SECRET_VARIABLES, `<NAME>_FILE=/path` sets `<NAME>` to the
// file's contents (one trailing newline dropped), the convention of Docker secrets, Kubernetes
// Secret volumes and systemd's LoadCredential=. Only that list is read: other variables that end
// in _FILE (GK_END_GRACE_FILE) are ordinary settings. Plain JS so that it needs no compiler.
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

/** Variables that may hold a secret and so may be given as `<NAME>_FILE`. */
const SECRET_VARIABLES = ['GK_ADMIN_TOKEN', 'DATABASE_URL'];

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
    `Secrets may be given as files: ${SECRET_VARIABLES.map((v) => `${v}_FILE`).join(', ')}.`,
    '',
  ].join('\n');
}

/**
 * Returns the environment with every `<NAME>_FILE` of SECRET_VARIABLES read into `<NAME>`, and the
 * problems found (all of them, so an operator fixes them in one go).
 */
function readSecretFiles(env, readFile = (file) => fs.readFileSync(file, 'utf8')) {
  const result = { ...env };
  const problems = [];
  for (const name of SECRET_VARIABLES) {
    const file = env[`${name}_FILE`];
    if (file === undefined || file === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      problems.push(`${name} and ${name}_FILE are both set: keep one`);
      continue;
    }
    let value;
    try {
      value = readFile(file);
    } catch (err) {
      problems.push(`${name}_FILE: cannot read ${file}: ${err && err.code ? err.code : err}`);
      continue;
    }
    value = value.replace(/\r?\n$/, '');
    if (value === '') problems.push(`${name}_FILE: ${file} is empty`);
    else result[name] = value;
    delete result[`${name}_FILE`];
  }
  return { env: result, problems };
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
  const { env, problems } = readSecretFiles(process.env);
  if (problems.length) {
    process.stderr.write(`gracekeeper ${program}: invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    process.exit(USAGE_EXIT);
  }
  for (const name of SECRET_VARIABLES) {
    if (env[name] !== undefined) process.env[name] = env[name];
    delete process.env[`${name}_FILE`];
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

module.exports = { PROGRAMS, ALIASES, SECRET_VARIABLES, readSecretFiles, programMain };
