#!/usr/bin/env node
// Builds the SO_PEERCRED addon (native/peercred) with the node-gyp that npm ships, against the
// Node headers installed beside this node (Debian's /usr/include/node, the official tarballs' and
// images' <prefix>/include/node) so that nothing is downloaded. Run by `npm ci` (prepare) and
// `npm run build:native`. A failed build does not fail the install: it is reported here, and the
// agent refuses to open its sockets with the same explanation (libs/service-kit peer-credentials.ts)
// unless GK_SOCKET_PEER_CHECK=off. Plain JS: it runs before anything is compiled.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

const here = __dirname;
const prefix = path.resolve(path.dirname(process.execPath), '..');
const nodedir = process.env.npm_config_nodedir || (existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined);
const gyp = process.env.npm_config_node_gyp || findNpmNodeGyp();

function findNpmNodeGyp() {
  const candidates = [
    path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(path.dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((c) => existsSync(c));
}

function warn(why) {
  process.stderr.write(`\nWARNING: the peer-credential addon (native/peercred) was not built: ${why}\n`
    + 'The node-agent will refuse to open its Unix sockets until it is (npm run build:native; needs python3, make, a C compiler\n'
    + 'and the Node headers), or until GK_SOCKET_PEER_CHECK=off is set (development only). See docs/security.md.\n\n');
}

if (process.platform !== 'linux') {
  warn(`SO_PEERCRED is Linux-only (this is ${process.platform})`);
} else if (!gyp) {
  warn('node-gyp was not found (it comes with npm)');
} else {
  const args = [gyp, 'rebuild', '--directory', here, ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
  const run = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (run.status !== 0) warn(`node-gyp exited ${run.status ?? run.signal}:\n${(run.stderr || '').split('\n').filter((l) => /ERR!|error/.test(l)).slice(0, 12).join('\n')}`);
}
