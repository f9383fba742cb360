// Prints every event (one line each, in order) of one deployment's stream (prefix = argv[2]) as one JSON line each:
// what the scenarios assert "the log recorded". Plain JS: runs in the guest without a compiler.
'use strict';
const path = require('node:path');
const repo = path.resolve(__dirname, '..', '..', '..');
const fromRepo = require('node:module').createRequire(path.join(repo, 'package.json'));
const { connect } = fromRepo('@nats-io/transport-node');
const { jetstreamManager } = fromRepo('@nats-io/jetstream');

async function main() {
  const prefix = process.argv[2];
  const stream = `${prefix.toUpperCase().replace(/-/g, '_')}_EVENTS`;
  const nc = await connect({ servers: process.env.NATS_URL || 'nats://127.0.0.1:4222' });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (!m) continue;
      let body;
      try {
        body = JSON.parse(new TextDecoder().decode(m.data));
      } catch {
        body = { undecodable: true };
      }
      // One decision message carries one or more events: one line per event.
      for (const event of Array.isArray(body.events) ? body.events : [body]) {
        process.stdout.write(`${JSON.stringify({ seq, subject: m.subject, ...event })}\n`);
      }
    }
  } finally {
    await nc.close();
  }
}
main().catch((err) => {
  process.stderr.write(`events.js: ${err && err.message}\n`);
  process.exit(1);
});
