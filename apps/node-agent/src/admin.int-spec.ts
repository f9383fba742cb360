/** The agent's REST admin (SPEC §4.3) over an in-process agent on real NATS. */
import type { INestApplication } from '@nestjs/common';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { bootstrapService, listeningPort } from '#service-kit';
import { cleanupStream, testNatsUrl, testStreamNames } from '#testing';
import { startTestAgent, type TestAgent } from '../test/in-process';
import { AgentAdminModule } from './admin/admin.module';

const names = testStreamNames('agentadmin');
const TOKEN = 'admin-token-for-tests';
const READ = 'read-token-for-tests';
let admin: NatsConnection;
let agent: TestAgent;
let app: INestApplication;
let base: string;

beforeAll(async () => {
  admin = await connect({ servers: testNatsUrl() });
  agent = await startTestAgent({ natsUrl: testNatsUrl(), names, cluster: 'rest', node: 'n1' });
  app = await bootstrapService(AgentAdminModule.forAgent(agent.core, { admin: TOKEN, read: READ }), { port: 0, title: 't', description: 't', quiet: true });
  base = `http://127.0.0.1:${listeningPort(app)}`;
});
afterAll(async () => {
  await app.close();
  await agent.stop();
  await cleanupStream(admin, names);
  await admin.close();
});

const post = (path: string, body: unknown, token?: string) =>
  fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });

describe('node-agent REST admin', () => {
  it('changes grace only with the bearer token, and validates the body', async () => {
    expect((await post('/grace/start', {})).status).toBe(401);
    expect((await post('/grace/start', {}, 'wrong-token-xxxxx')).status).toBe(401);
    expect((await post('/grace/start', {}, READ)).status).toBe(401);
    const started = await post('/grace/start', {}, TOKEN);
    expect(started.status).toBe(200);
    expect(await started.json()).toMatchObject({ status: 'OK', epoch: 2, recoveryEpoch: 1 });
    expect((await post('/grace/done', { wait: 'soon' }, TOKEN)).status).toBe(400);
    const done = await post('/grace/done', {}, TOKEN);
    expect(await done.json()).toMatchObject({ status: 'OK', ended: true });
  });

  it('serves status (its records) only with the read or admin token, readiness, metrics and OpenAPI', async () => {
    const status = (token?: string) => fetch(`${base}/status`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    expect((await status()).status).toBe(401);
    expect((await status('read-token-for-testz')).status).toBe(401);
    expect(await (await status(READ)).json()).toMatchObject({ status: 'OK', node: 'n1', grace: { epoch: 2, recoveryEpoch: 0 } });
    expect((await status(TOKEN)).status).toBe(200);
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', info: { nats: { status: 'up' }, 'live-view': { status: 'up' } } });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^gk_agent_epoch 2$/m);
    expect(metrics).toMatch(/^gk_agent_requests_total\{op="grace_start",status="OK"\} 1$/m);
    expect((await fetch(`${base}/docs`)).status).toBe(200);
  });
});
