// Prints every event of one deployment's stream (prefix = argv[2]), one JSON line per event, in
// order: what the scenarios assert "the log recorded". With --follow (argv[3]) it keeps running
// and prints each new event as it is appended (waiting for the stream to exist): starting Node
// takes seconds under emulation, so a scenario runs one follower and reads its output file.
// Plain JS: runs in the guest without a compiler.
'use strict';
const path = require('node:path');
const repo = path.resolve(__dirname, '..', '..', '..');
const fromRepo = require('node:module').createRequire(path.join(repo, 'package.json'));
const { connect } = fromRepo('@nats-io/transport-node');
const { jetstream, jetstreamManager } = fromRepo('@nats-io/jetstream');

function print(seq, subject, data) {
  let body;
  try {
    body = JSON.parse(new TextDecoder().decode(data));
  } catch {
    body = { undecodable: true };
  }
  // One decision message carries one or more events: one line per event.
  for (const event of Array.isArray(body.events) ? body.events : [body]) {
    process.stdout.write(`${JSON.stringify({ seq, subject, ...event })}\n`);
  }
}

async function printAll(nc, stream) {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (m) print(seq, m.subject, m.data);
  }
}

async function follow(nc, stream) {
  const jsm = await jetstreamManager(nc);
  for (;;) {
    const exists = await jsm.streams.info(stream).then(() => true, () => false);
    if (exists) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const consumer = await jetstream(nc).consumers.get(stream); // ordered, from the first message
  for await (const m of await consumer.consume()) print(m.seq, m.subject, m.data);
}

async function main() {
  const prefix = process.argv[2];
  const stream = `${prefix.toUpperCase().replace(/-/g, '_')}_EVENTS`;
  const nc = await connect({ servers: process.env.NATS_URL || 'nats://127.0.0.1:4222' });
  try {
    await (process.argv[3] === '--follow' ? follow(nc, stream) : printAll(nc, stream));
  } finally {
    await nc.close();
  }
}
main().catch((err) => {
  process.stderr.write(`events.js: ${err && err.message}\n`);
  process.exit(1);
});
