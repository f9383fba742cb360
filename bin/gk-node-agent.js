#!/usr/bin/env node
// The node-agent daemon (see docs/node-agent.md). Plain JS so that starting it needs no
// compiler; the logic is the compiled apps/node-agent.
'use strict';
const path = require('node:path');

const main = path.join(__dirname, '..', 'dist', 'apps', 'node-agent', 'src', 'main.js');
try {
  require(main);
} catch (e) {
  if (e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(main)) {
    process.stderr.write(`gk-node-agent: ${main} is missing; run "npm run build" first\n`);
    process.exit(1);
  }
  throw e;
}
