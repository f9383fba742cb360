/**
 * The node-agent loads NestJS only for its REST admin port (issue 12): beside knfsd the port is
 * usually off, and loading Nest took most of the agent's start (seconds here, tens under the
 * kernel suite's emulation) while nfsd's first start waits for the agent. With the port on,
 * the admin API is there as before.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { buildAgent, spawnAgent, type AgentProcess } from '../apps/node-agent/test/agent-process';
import { cleanupStream, testNatsUrl, testStreamNames } from '#testing';

jest.setTimeout(240_000);
const names = testStreamNames('agentstart');
let admin: NatsConnection;
let dir: string;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  admin = await natsConnect({ servers: testNatsUrl() });
  dir = mkdtempSync(join(tmpdir(), 'gk-agent-start-'));
});
afterAll(async () => {
  await agent?.kill();
  await cleanupStream(admin, names);
  await admin.close();
  rmSync(dir, { recursive: true, force: true });
});

it('with the admin port off, the agent loads no @nestjs package (--help: every static import is loaded)', () => {
  // A preload that reports every @nestjs package required (Nest 12 is ESM: require(esm) still
  // resolves its entry through Module._resolveFilename).
  const hook = join(dir, 'report-nest.js');
  writeFileSync(hook, `const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request.startsWith('@nestjs/')) process.stderr.write('NEST ' + request + '\\n');
  return resolve.call(this, request, ...rest);
};
`);
  const run = spawnSync(process.execPath, ['-r', hook, buildAgent(), '--help'], { encoding: 'utf8' });
  expect(run.status).toBe(0);
  expect(run.stdout).toMatch(/--admin-port/);
  expect(run.stderr.match(/^NEST .*/gm) ?? []).toEqual([]);
});

it('with the admin port on, the REST admin answers as before', async () => {
  agent = spawnAgent(['--cluster', 'start', '--node', 'n1', '--json-socket', join(dir, 'agent.sock'), '--admin-port', '0', '--end-grace-file', 'off'], {
    NATS_URL: testNatsUrl(),
    GK_PREFIX: names.prefix,
  });
  await agent.ready;
  const url = /admin=(http:\/\/127\.0\.0\.1:\d+)/.exec(agent.output())?.[1];
  expect(url).toBeDefined();
  const live = await fetch(`${url}/health/live`);
  expect(live.status).toBe(200);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  expect(metrics).toMatch(/^gk_agent_view_sequence /m);
});
