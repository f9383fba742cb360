#!/usr/bin/env node
// Wall time of one gk-cltrack call, start to exit, against a minimal in-memory agent, beside
// `node -e 0` (the floor any Node program pays) and, if given, nfsdcltrack on SQLite.
// Usage: npm run build && node apps/gk-cltrack/measure-startup.js [runs] [path/to/nfsdcltrack]
// (GK_CLTRACK_BIN=path/to/gk-cltrack.js measures another install.)
'use strict';
const { spawn } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const net = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const runs = Number(process.argv[2]) || 50;
const nfsdcltrack = process.argv[3];
const dir = mkdtempSync(join(tmpdir(), 'gk-startup-'));
const socketPath = join(dir, 'agent.sock');
const bin = process.env.GK_CLTRACK_BIN || join(__dirname, '..', '..', 'bin', 'gk-cltrack.js');

// The agent runs in a separate process so that its work does not share our event loop timing.
const agentSource = `
  const known = new Set();
  require('node:net').createServer((s) => {
    let buf = '';
    s.setEncoding('utf8');
    s.on('error', () => {});
    s.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\\n')) >= 0) {
        const req = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (req.op === 'create') known.add(req.client);
        const status = req.op !== 'check' || known.has(req.client) ? 'OK' : 'NFS4ERR_RECLAIM_BAD';
        s.write(JSON.stringify({ id: req.id, status }) + '\\n');
      }
    });
  }).listen(${JSON.stringify(socketPath)}, () => process.send('ready'));`;

function timeOnce(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: Number(process.hrtime.bigint() - start) / 1e6, code }));
  });
}

async function series(label, cmd, args, env) {
  const times = [];
  let code;
  for (let i = 0; i < runs; i++) ({ ms: times[i], code } = await timeOnce(cmd, args, env));
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(1);
  console.log(`${label.padEnd(44)} exit ${String(code).padStart(3)}  p50 ${q(0.5)} ms  p90 ${q(0.9)} ms  min ${times[0].toFixed(1)} ms`);
}

async function main() {
  const agent = spawn(process.execPath, ['-e', agentSource], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise((resolve) => agent.once('message', resolve));
  const env = { GK_AGENT_SOCKET: socketPath, NFSDCLTRACK_CLIENT_HAS_SESSION: 'N' };
  try {
    console.log(`${runs} runs each, node ${process.version}`);
    await series('node -e 0', process.execPath, ['-e', '0'], {});
    await series('gk-cltrack create 0a0b', process.execPath, [bin, 'create', '0a0b'], env);
    await series('gk-cltrack check 0a0b (hit)', process.execPath, [bin, 'check', '0a0b'], env);
    await series('gk-cltrack check 0c0d (miss)', process.execPath, [bin, 'check', '0c0d'], env);
    if (nfsdcltrack) {
      const store = join(dir, 'sqlite');
      await series('nfsdcltrack create 0a0b', nfsdcltrack, ['-s', store, 'create', '0a0b'], env);
      await series('nfsdcltrack check 0a0b', nfsdcltrack, ['-s', store, 'check', '0a0b'], env);
    }
  } finally {
    agent.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
