#!/usr/bin/env node
// Copies the web console's static files (apps/grace-coordinator/web) beside the compiled
// coordinator (dist/apps/grace-coordinator/web), where it serves them from. Part of `npm run build`.
'use strict';
const { cpSync, mkdirSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const from = join(root, 'apps', 'grace-coordinator', 'web');
const to = join(root, 'dist', 'apps', 'grace-coordinator', 'web');
mkdirSync(to, { recursive: true });
cpSync(from, to, { recursive: true });
