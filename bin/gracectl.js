#!/usr/bin/env node
// gracectl: the operator's tool for Gracekeeper's cluster grace state (counterpart of
// ganesha-rados-grace). Plain JS so that starting it needs no compiler; the logic is the
// compiled apps/gracectl.
'use strict';
const path = require('node:path');

const main = path.join(__dirname, '..', 'dist', 'apps', 'gracectl', 'src', 'main.js');
try {
  require(main);
} catch (e) {
  if (e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(main)) {
    process.stderr.write(`Failure: ${main} is missing; run "npm run build" first\n`);
    process.exit(1);
  }
  throw e;
}
