#!/usr/bin/env node
// Drop-in for nfsdcltrack (point nfsd's cltrack_prog module parameter here). Plain JS so
// that starting it needs no compiler; the logic is the compiled apps/gk-cltrack.
'use strict';
const path = require('node:path');

const main = path.join(__dirname, '..', 'dist', 'apps', 'gk-cltrack', 'src', 'main.js');
try {
  require(main);
} catch (e) {
  if (e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(main)) {
    process.stderr.write(`gk-cltrack: ${main} is missing; run "npm run build" first\n`);
    process.exit(135); // -EREMOTEIO & 0xff, as for any other storage failure
  }
  throw e;
}
