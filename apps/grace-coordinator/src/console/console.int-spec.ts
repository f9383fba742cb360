import type { INestApplication } from '@nestjs/common';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { clientIdOfOwner, ownerShown, subjects } from '#contracts';
import { bootstrapService, listeningPort } from '#service-kit';
import { cleanupStream, testNatsUrl, testStreamNames } from '#testing';
import { CoordinatorAppModule } from '../coordinator.module';

/**
 * The console's HTTP surface on a real coordinator (in-process, real NATS JetStream): security
 * headers, the read token on its API, the SSE stream's framing, and audits asked of the registry
 * over NATS with the coordinator's read token. The registry here is a NATS responder that
 * records what it is asked (the real one is in test/browser).
 */
const names = testStreamNames('console_http');
const READ = 'console-read-token-1';
const ADMIN = 'console-admin-token-1';
let app: INestApplication;
let base: string;
let nc: NatsConnection;
const asked: Record<string, unknown>[] = [];

beforeAll(async () => {
  app = await bootstrapService(CoordinatorAppModule.forRoot({
    natsUrl: testNatsUrl(), prefix: names.prefix, clusters: ['c1'], port: 0, adminToken: ADMIN, readToken: READ, replica: 'console-http', quiet: true,
  }), { port: 0, title: 'console', description: 'console', quiet: true });
  base = `http://127.0.0.1:${listeningPort(app)}`;
  nc = await connect({ servers: testNatsUrl() });
  nc.subscribe(subjects.registryRequests(names, 'c1'), {
    callback: (_err, msg) => {
      const request = msg.json<Record<string, unknown>>();
      asked.push(request);
      msg.respond(JSON.stringify({ ok: true, focus: {}, entries: [{ sequence: 3, idx: 0, type: 'ClientRecorded', time: new Date().toISOString(), actor: 'b', id: 'x', text: `client ${ownerShown(String(request.client))} recorded on b` }] }));
    },
  });
  await nc.flush();
}, 60_000);

afterAll(async () => {
  await app?.close();
  await cleanupStream(nc, names);
  await nc.close();
});

/** GET with a bearer token ('' for none). */
const read = (path: string, token = READ) => fetch(`${base}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

describe('the console over HTTP', () => {
  it('serves the page and its files with a strict policy, and nothing else under assets', async () => {
    const page = await read('/console', '');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await page.text()).not.toMatch(/<script>|<style>|\sstyle=|\son\w+=/i);
    expect((await read('/console/assets/console.js', '')).headers.get('content-type')).toMatch(/^text\/javascript/);
    for (const path of ['/console/assets/index.html', '/console/assets/..%2F..%2Fpackage.json', '/console/assets/nope.js']) {
      expect((await read(path, '')).status).toBe(404);
    }
  });

  it('wants the read token (or the admin token) on its API when one is configured', async () => {
    expect((await read('/console/api/clusters', '')).status).toBe(401);
    expect((await read('/console/api/clusters', 'wrong')).status).toBe(401);
    expect(await (await read('/console/api/clusters')).json()).toEqual({ ok: true, clusters: ['c1'] });
    expect((await read('/console/api/clusters', ADMIN)).status).toBe(200);
    expect((await read('/console/api/clusters/other/now')).status).toBe(404);
  });

  it('streams server-sent events: the cluster now and the timeline first', async () => {
    const controller = new AbortController();
    const res = await fetch(`${base}/console/api/clusters/c1/events`, { headers: { authorization: `Bearer ${READ}` }, signal: controller.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: timeline')) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    expect(text).toMatch(/^retry: 2000\n\nevent: now\ndata: \{"epoch":1,.*"progress":\[\]\}\n\nevent: timeline\ndata: \[\]\n\n/s);
  });

  it('asks the registry for audits with its read token, by owner text, and shows owners as text', async () => {
    const owner = 'Linux NFSv4.1 host-9 <b>';
    const res = await read(`/console/api/clusters/c1/audit?owner=${encodeURIComponent(owner)}`);
    expect(res.status).toBe(200);
    expect(asked.at(-1)).toEqual({ op: 'audit', client: clientIdOfOwner(owner), limit: 2000, token: READ });
    expect(await res.json()).toMatchObject({ owner: { text: owner, printable: true }, entries: [{ text: `client ${JSON.stringify(owner)} recorded on b` }] });
    const bad = await read('/console/api/clusters/c1/audit?epoch=x');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'BAD_REQUEST', error: 'an epoch is a positive integer' });
  });
});
