import { connect, type NatsConnection } from '@nats-io/transport-node';
import { subjects } from '#contracts';
import { executeOnce, openGraceStore, type OpenedStore } from '#cluster-store';
import type { Command } from '#domain';
import { Client } from 'pg';
import { diffDumps, dumpReadModel, lastEventSequence, rebuildReadModel, sqlOf } from '#projection';
import { gracectl, startRegistry, until, type RegistryProcess } from '../apps/client-registry/test/process';
import { distMain, ensureBuilt, cleanupStream, testDatabaseUrl, testNatsUrl, testStreamNames } from '#testing';

/**
 * The client-registry as deployed (node dist/apps/client-registry/src/main.js) against the real
 * JetStream and PostgreSQL: REST and NATS answer the same queries at a reported sequence, the
 * registry publishes the invalidations when grace ends, a replay swaps in a new generation while
 * it serves, and gracectl audit/replay work against it.
 */
jest.setTimeout(180_000);
const names = testStreamNames('registry_e2e');
const TOKEN = 'e2e-registry-token-1';
const c = 'prod';
// Y's owner is printable (as Linux clients' are): audits show it as text; the others' as hex.
const [X, Y, Z, W] = ['0a01', Buffer.from('Linux NFSv4.2 host-y').toString('hex'), 'fe03', '0b01'];
const T0 = Date.parse('2026-04-01T10:00:00.000Z');
let opened: OpenedStore;
let nc: NatsConnection;
let registry: RegistryProcess;

async function run(command: Command, seconds: number) {
  const r = await executeOnce(opened.store, names, c, command, { actor: 'node' in command ? command.node : 'gracectl:e2e', causation: `e2e:${command.type}`, now: () => T0 + seconds * 1000 });
  if (!r.ok) throw new Error(`${command.type} refused: ${r.rejection.message}`);
  return r;
}

async function caughtUp(p: RegistryProcess): Promise<number> {
  let last = -1;
  await until('the registry to catch up with the stream', async () => {
    const seq = await lastEventSequence(opened.nc, names);
    const { body } = await p.get('/projection');
    if (body?.checkpoint?.sequence === seq && seq === last) return true;
    last = seq;
    await new Promise((r) => setTimeout(r, 100));
    return false;
  });
  return last;
}

async function ask(request: Record<string, unknown>): Promise<any> {
  const reply = await nc.request(subjects.registryRequests(names, c), JSON.stringify(request), { timeout: 10_000 });
  return reply.json();
}

beforeAll(async () => {
  await ensureBuilt([distMain('client-registry'), distMain('gracectl')]);
  opened = await openGraceStore({ natsUrl: testNatsUrl(), names, name: 'registry-e2e' });
  nc = await connect({ servers: testNatsUrl() });
  // A cluster with history: node a restarts; X reclaims and completes; Y and Z never reclaim;
  // the deadline ends grace; Y reclaims too late.
  await run({ type: 'add', nodes: ['a', 'b'] }, 0);
  await run({ type: 'create', node: 'a', clients: [{ client: X }, { client: Y }, { client: Z, principalHash: 'abcd' }] }, 1);
  await run({ type: 'create', node: 'b', clients: [{ client: W }] }, 2);
  await run({ type: 'start', nodes: ['a'] }, 60);
  await run({ type: 'reclaim', node: 'a', clients: [X] }, 61);
  await run({ type: 'reclaimComplete', node: 'a', clients: [X] }, 62);
  await run({ type: 'expire', now: T0 + 200_000 }, 200);
  await run({ type: 'reclaim', node: 'a', clients: [Y] }, 242);
  registry = await startRegistry({ replica: 'e2e-1', names, natsUrl: testNatsUrl(), databaseUrl: testDatabaseUrl(), token: TOKEN });
  await until('the invalidation of Y and Z to be published', async () => (await opened.store.readStream(subjects.registry(names, c))).messages.length === 1);
  await caughtUp(registry);
}, 180_000);

afterAll(async () => {
  await registry?.stop();
  await cleanupStream(opened.nc, names);
  await opened.close();
  await nc.close();
});

describe('client-registry service', () => {
  it('answers "is X reclaimable on N now?" over REST and NATS alike, with the sequence it reflects', async () => {
    const sequence = await lastEventSequence(opened.nc, names);
    const rest = await registry.get(`/clusters/${c}/nodes/a/clients/${Y}/reclaimable`);
    expect(rest.status).toBe(200);
    expect(rest.body).toMatchObject({ ok: true, reclaimable: false, status: 'NFS4ERR_NO_GRACE', sequence });
    expect(rest.body.why).toMatch(/no grace period is in force: the grace period of epoch 1 ended at 2026-04-01T10:03:20.000Z because its deadline passed; abandoned a/);
    expect(await ask({ op: 'reclaimable', node: 'a', client: Y })).toEqual(rest.body);
    expect(await ask({ op: 'reclaimableClients', node: 'a' })).toMatchObject({ ok: true, clients: [], recoveryEpoch: 0, sequence });
    expect(await ask({ op: 'reclaimable', node: 'a', client: 'XYZ' })).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
    expect((await nc.request(subjects.registryRequests(names, c), 'not json')).json()).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
    // A caller that needs a later state waits for it, or is told the read model is not there yet.
    expect(await ask({ op: 'cluster', atLeast: sequence + 1000, waitMs: 200 })).toMatchObject({ ok: false, code: 'UNAVAILABLE' });
    expect(await ask({ op: 'cluster', atLeast: sequence })).toMatchObject({ ok: true, exists: true, summary: { epoch: 2, recoveryEpoch: 0 } });
  });

  it('lists client records by node, epoch and validity, in pages, and one client\'s history', async () => {
    const invalid = await registry.get(`/clusters/${c}/clients?node=a&valid=false&limit=1`);
    expect(invalid.body.items).toEqual([expect.objectContaining({ node: 'a', client: Y, valid: false, invalidated: expect.objectContaining({ reason: 'deadline', epoch: 1, at: '2026-04-01T10:03:20.000Z' }) })]);
    const next = invalid.body.next;
    const page2 = await registry.get(`/clusters/${c}/clients?node=a&valid=false&limit=1&afterNode=${next.node}&afterClient=${next.client}`);
    expect(page2.body.items).toEqual([expect.objectContaining({ client: Z, valid: false, invalidated: expect.objectContaining({ reason: 'deadline' }) })]);
    expect(page2.body.next).toBeUndefined();
    const valid = await registry.get(`/clusters/${c}/clients?valid=true`);
    expect(valid.body.items.map((r: { node: string; client: string }) => `${r.node}/${r.client}`)).toEqual([`a/${X}`, `b/${W}`]);
    // RECLAIM_COMPLETE stays on record until the node restarts (as the domain keeps it).
    expect(valid.body.items[0]).toMatchObject({ currentRecordEpoch: 2, reclaimedEpoch: 1, completed: true });
    const epoch1 = await registry.get(`/clusters/${c}/clients?epoch=1`);
    expect(epoch1.body.items.map((r: { client: string }) => r.client)).toEqual([W]);
    expect((await registry.get(`/clusters/${c}/clients?valid=maybe`)).status).toBe(400);
    const history = await registry.get(`/clusters/${c}/clients/${Y}`);
    // In log order: the registry published the invalidation when it started, after every other event.
    // Y's late reclaim (outside grace) was refused without an event: refusals outside grace are not stored.
    expect(history.body.history.map((h: { type: string }) => h.type)).toEqual(['ClientRecorded', 'ClientRecordsInvalidated']);
    const periods = await registry.get(`/clusters/${c}/grace-periods`);
    expect(periods.body.periods).toEqual([expect.objectContaining({ recoveryEpoch: 1, nodes: ['a'], reason: 'deadline', abandonedNodes: ['a'], reclaimsAccepted: 1, completions: 1, invalidated: 2 })]);
  });

  it('serves the audit timeline, and gracectl audit prints it from the database and from the events alike', async () => {
    const rest = await registry.get(`/clusters/${c}/audit?client=${Y}`);
    expect(rest.body.entries.map((e: { type: string }) => e.type)).toEqual(['ClientRecorded', 'GraceStarted', 'GraceEnded', 'ClientRecordsInvalidated']);
    expect(rest.body.owner).toEqual({ id: Y, encoding: 'text', text: 'Linux NFSv4.2 host-y' });
    expect(rest.body.entries[0].text).toBe('client "Linux NFSv4.2 host-y" recorded on a in epoch 1');
    const fromDb = await gracectl(names, testNatsUrl(), ['--cluster', c, 'audit', '--client', Y, '--database-url', testDatabaseUrl()]);
    expect(fromDb.code).toBe(0);
    expect(fromDb.stdout.startsWith(`audit of client "Linux NFSv4.2 host-y" (owner as text, id ${Y}) in cluster prod, from the read model (generation `)).toBe(true);
    expect(fromDb.stdout).toContain('(client owners are shown as "text" where printable, as hex otherwise)');
    expect(fromDb.stdout).toContain('GraceEnded  grace period of epoch 1 ended because its deadline passed');
    const fromEvents = await gracectl(names, testNatsUrl(), ['--cluster', c, 'audit', '--client', Y, '--events']);
    expect(fromEvents.code).toBe(0);
    const body = (out: string) => out.split('\n').slice(1).join('\n');
    expect(body(fromEvents.stdout)).toBe(body(fromDb.stdout));
    const json = JSON.parse((await gracectl(names, testNatsUrl(), ['--cluster', c, 'audit', '--epoch', '1', '--json', '--events'])).stdout);
    expect(json.entries.map((e: { type: string }) => e.type)).toContain('GraceEnded');
    expect((await gracectl(names, testNatsUrl(), ['--cluster', c, 'audit'])).code).toBe(2);
    expect((await gracectl(names, testNatsUrl(), ['--cluster', c, 'audit', '--client', 'nothex'])).code).toBe(2);
  });

  it('replays on request (admin token), swapping in a new generation while it serves; gracectl replay does the same', async () => {
    expect((await fetch(`${registry.base}/projection/replay`, { method: 'POST' })).status).toBe(401);
    const before = (await registry.get('/projection')).body;
    const started = await fetch(`${registry.base}/projection/replay`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(started.status).toBe(202);
    await until('the replay to finish', async () => ['done', 'failed'].includes((await registry.get('/projection/replay')).body?.state));
    const job = (await registry.get('/projection/replay')).body;
    expect(job).toMatchObject({ state: 'done', result: { generation: before.live.generation + 1, previous: { generation: before.live.generation } } });
    expect((await registry.get(`/clusters/${c}/nodes/a/clients/${Y}/reclaimable`)).body).toMatchObject({ status: 'NFS4ERR_NO_GRACE', generation: before.live.generation + 1 });

    const replay = await gracectl(names, testNatsUrl(), ['replay', '--database-url', testDatabaseUrl()]);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(/^replayed \d+ events in \d+ messages \(0 malformed\) in [\d.]+ s\nrate: [\d,]+ events\/s, [\d,]+ messages\/s\nread model generation \d+/);
    expect(replay.stderr).toMatch(/replay \[#+\] 100%/);
    await caughtUp(registry);
    const status = (await registry.get('/projection')).body;
    expect(status).toMatchObject({ role: 'active', lag: 0, live: { generation: before.live.generation + 2 } });
    expect((await registry.get(`/clusters/${c}/clients?valid=true`)).body.items).toHaveLength(2);
    // gracectl read the stream in its reader thread; a rebuild in this thread gives the same tables.
    const db = new Client({ connectionString: testDatabaseUrl() });
    await db.connect();
    try {
      const replayed = await dumpReadModel(sqlOf(db), status.live.schema);
      const again = await rebuildReadModel({ client: db, nc: opened.nc, store: opened.store, names });
      expect(diffDumps(replayed, await dumpReadModel(sqlOf(db), again.schema))).toEqual([]);
    } finally {
      await db.end();
    }
  });

  it('reports health with PostgreSQL and the projection, and Prometheus metrics', async () => {
    const health = await registry.get('/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', info: { nats: { status: 'up' }, postgres: { status: 'up' }, projection: { status: 'up', role: 'active' } } });
    const metrics = await (await fetch(`${registry.base}/metrics`)).text();
    expect(metrics).toMatch(/gk_registry_checkpoint_sequence \d+/);
    expect(metrics).toMatch(/gk_registry_active 1/);
    expect(metrics).toMatch(/gk_registry_projection_lag_sequences 0/);
    const docs = await registry.get('/docs-json');
    expect(Object.keys(docs.body.paths)).toEqual(expect.arrayContaining(['/projection', '/projection/replay', '/clusters/{cluster}/clients', '/clusters/{cluster}/audit']));
  });
});
