#!/usr/bin/env node
// The image's HEALTHCHECK: GET /health/live on this container's admin port (GK_ADMIN_PORT, 8080
// in the image), exit 0 when it answers 2xx within the timeout, 1 otherwise with the reason.
// Liveness only: readiness (/health: NATS, PostgreSQL) belongs to orchestrators and load
// balancers, and restarting a container would not bring a lost dependency back.
'use strict';
const http = require('node:http');

const TIMEOUT_MS = 4000;
const port = process.env.GK_ADMIN_PORT || '8080';

if (!/^[0-9]+$/.test(port) || Number(port) === 0) {
  process.stderr.write(`healthcheck: GK_ADMIN_PORT=${port} has no fixed admin port to check\n`);
  process.exit(1);
}
const request = http.get({ host: '127.0.0.1', port: Number(port), path: '/health/live', timeout: TIMEOUT_MS }, (res) => {
  res.resume();
  if (res.statusCode >= 200 && res.statusCode < 300) process.exit(0);
  process.stderr.write(`healthcheck: /health/live answered ${res.statusCode}\n`);
  process.exit(1);
});
request.on('timeout', () => request.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
request.on('error', (err) => {
  process.stderr.write(`healthcheck: 127.0.0.1:${port}/health/live: ${err.message}\n`);
  process.exit(1);
});
