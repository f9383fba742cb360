#!/usr/bin/env node
// Run after any `npm install` that rewrites package-lock.json (see docs/decisions.md).
// Adds lock entries for other platforms' optional binaries that this registry mirror does not
// carry, so `npm ci` accepts the lock; npm skips them on this platform by their os/cpu fields.
const fs = require('fs');
const lock = JSON.parse(fs.readFileSync('package-lock.json', 'utf8'));
const pk = lock.packages;
const guess = (name) => {
  const n = name.split('/').pop();
  const os = ['darwin','linux','win32','freebsd','android','openharmony'].find((o) => n.includes(o));
  const cpu = ['arm64','x64','ia32','arm','ppc64','s390x','riscv64','loong64'].find((c) => new RegExp(`-${c}(-|$)`).test(n));
  const libc = /musl/.test(n) ? ['musl'] : /gnu/.test(n) ? ['glibc'] : undefined;
  return { os: os ? [os === 'openharmony' ? 'openharmony' : os] : undefined, cpu: cpu ? [cpu] : undefined, libc };
};
let added = 0;
for (const [path, entry] of Object.entries(pk)) {
  for (const [dep, range] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (pk[key] || pk[`${path}/node_modules/${dep}`]) continue;
    const g = guess(dep);
    if (!g.os || !g.cpu) { console.error('cannot guess platform of', dep); continue; }
    pk[key] = { version: range.replace(/^[\^~=]/, ''), optional: true, os: g.os, cpu: g.cpu, ...(g.libc ? { libc: g.libc } : {}) };
    added++;
  }
}
const sorted = {};
for (const k of Object.keys(pk).sort((a, b) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b)))) sorted[k] = pk[k];
lock.packages = sorted;
fs.writeFileSync('package-lock.json', JSON.stringify(lock, null, 2) + '\n');
console.log('added', added);
