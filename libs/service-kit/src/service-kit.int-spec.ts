import { Body, Controller, Get, INestApplication, Module, Post, UseGuards } from '@nestjs/common';
import { connect } from '@nats-io/transport-node';
import { z } from 'zod';
import { cleanupStream, testNatsUrl, testStreamNames } from '#testing';
import { ADMIN_TOKEN, AdminTokenGuard, READ_TOKEN, ReadTokenGuard, bootstrapService, ConfigError, env, GraceStoreModule, HealthModule, listeningPort, loadConfig, MetricsModule, ZodBodyPipe } from './index';

const names = testStreamNames('svckit');
const Body_ = z.object({ nodes: z.array(z.string()).min(1) });

@Controller('things')
class ThingsController {
  @Get()
  @UseGuards(ReadTokenGuard)
  list() {
    return { clients: ['0a0b'] };
  }

  @Post()
  @UseGuards(AdminTokenGuard)
  add(@Body(new ZodBodyPipe(Body_)) body: z.infer<typeof Body_>) {
    return { added: body.nodes };
  }
}

@Module({
  imports: [GraceStoreModule.forRoot({ natsUrl: testNatsUrl(), names, name: 'svc-kit-test' }), HealthModule.forRoot(), MetricsModule],
  controllers: [ThingsController],
  providers: [{ provide: ADMIN_TOKEN, useValue: 'secret-token-1' }, { provide: READ_TOKEN, useValue: 'read-token-22' }],
})
class TestApp {}

describe('service kit', () => {
  let app: INestApplication;
  let base: string;
  beforeAll(async () => {
    app = await bootstrapService(TestApp, { port: 0, title: 'test', description: 'test', quiet: true });
    base = `http://127.0.0.1:${listeningPort(app)}`;
  });
  afterAll(async () => {
    await app.close();
    const nc = await connect({ servers: testNatsUrl() });
    await cleanupStream(nc, names);
    await nc.close();
  });

  it('serves readiness with a NATS check, liveness, metrics and OpenAPI', async () => {
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', info: { nats: { status: 'up' } } });
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^gk_process_cpu_user_seconds_total /m);
    expect(metrics).toMatch(/^gk_nodejs_eventloop_lag_seconds /m);
    expect(metrics).not.toMatch(/gk_process_process_|gk_process_nodejs_/);
    expect(await (await fetch(`${base}/docs-json`)).json()).toMatchObject({ info: { title: 'test' }, paths: { '/things': expect.anything() } });
  });

  it('enforces the read token on reads (the admin token also reads), and not for changes', async () => {
    const get = (token?: string) => fetch(`${base}/things`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    expect((await get()).status).toBe(401);
    expect((await get('read-token-2')).status).toBe(401);
    expect(await (await get('read-token-22')).json()).toEqual({ clients: ['0a0b'] });
    expect((await get('secret-token-1')).status).toBe(200);
    const change = await fetch(`${base}/things`, { method: 'POST', body: '{"nodes":["a"]}', headers: { 'content-type': 'application/json', authorization: 'Bearer read-token-22' } });
    expect(change.status).toBe(401);
  });

  it('guards changes with the bearer token and validates bodies', async () => {
    const post = (body: unknown, token?: string) => fetch(`${base}/things`, {
      method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
    expect((await post({ nodes: ['a'] })).status).toBe(401);
    expect((await post({ nodes: ['a'] }, 'wrong-token-99')).status).toBe(401);
    const bad = await post({ nodes: [] }, 'secret-token-1');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toMatch(/nodes/);
    const good = await post({ nodes: ['a'] }, 'secret-token-1');
    expect(good.status).toBe(201);
    expect(await good.json()).toEqual({ added: ['a'] });
  });
});

describe('loadConfig', () => {
  it('lists every bad variable at once', () => {
    const schema = z.object({ NATS_URL: env.natsUrl, GK_PREFIX: env.prefix, GK_ADMIN_PORT: env.port(8080) });
    expect(loadConfig(schema, {})).toEqual({ NATS_URL: 'nats://127.0.0.1:4222', GK_PREFIX: 'gk', GK_ADMIN_PORT: 8080 });
    try {
      loadConfig(schema, { NATS_URL: 'http://x', GK_PREFIX: 'a b', GK_ADMIN_PORT: '70000' });
      throw new Error('should have thrown');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toHaveLength(3);
      expect((err as Error).message).toMatch(/NATS_URL[\s\S]*GK_PREFIX[\s\S]*GK_ADMIN_PORT/);
    }
  });
});
