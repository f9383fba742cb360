import { connect, type NatsConnection } from '@nats-io/transport-node';
import { subjects, type StreamNames } from '#contracts';
import { executeOnce, openGraceStore, type OpenedStore } from '#cluster-store';
import { lastEventSequence } from '#projection';
import { cleanupStream, testDatabaseUrl, testNatsUrl, testStreamNames } from '#testing';
import { ClientRegistry } from './registry';

/**
 * The registry's NATS queries behind the read token, against the real NATS JetStream and
 * PostgreSQL: with a read token configured every query must carry it (or the admin token) in
 * `token`, as REST asks for the bearer token; a refusal is logged without the token.
 */
jest.setTimeout(60_000);
const READ = 'registry-read-token-1';
const ADMIN = 'registry-admin-token-1';
const cluster = 'prod';

let names: StreamNames;
let opened: OpenedStore;
let nc: NatsConnection;

async function ask(request: Record<string, unknown>): Promise<any> {
  return (await nc.request(subjects.registryRequests(names, cluster), JSON.stringify(request), { timeout: 15_000 })).json();
}

async function withRegistry(tokens: { readToken?: string; adminToken?: string }, work: (logged: string[]) => Promise<void>): Promise<void> {
  const logged: string[] = [];
  const registry = await ClientRegistry.start({
    databaseUrl: testDatabaseUrl(), nc: opened.nc, store: opened.store, names, replica: 'read-token-test',
    log: (level, message) => logged.push(`${level}: ${message}`), ...tokens,
  });
  try {
    await opened.nc.flush();
    await work(logged);
  } finally {
    await registry.close();
  }
}

beforeAll(async () => {
  names = testStreamNames('registry_read_token');
  opened = await openGraceStore({ natsUrl: testNatsUrl(), names, name: 'registry-read-token' });
  nc = await connect({ servers: testNatsUrl() });
  const r = await executeOnce(opened.store, names, cluster, { type: 'add', nodes: ['a'] }, { actor: 'gracectl:test', causation: 'test:add' });
  if (!r.ok) throw new Error(r.rejection.message);
});

afterAll(async () => {
  await cleanupStream(opened.nc, names);
  await opened.close();
  await nc.close();
});

describe('client-registry NATS queries and the read token', () => {
  it('refuses every query without the read token (UNAUTHORIZED), and logs the refusal without the token', async () => {
    await withRegistry({ readToken: READ, adminToken: ADMIN }, async (logged) => {
      const queries = [
        { op: 'cluster' }, { op: 'gracePeriods' }, { op: 'projection' }, { op: 'clients', node: 'a' },
        { op: 'client', client: '0a01' }, { op: 'reclaimable', node: 'a', client: '0a01' },
        { op: 'reclaimableClients', node: 'a' }, { op: 'audit', node: 'a' },
      ];
      for (const query of queries) {
        expect(await ask(query)).toEqual({ ok: false, code: 'UNAUTHORIZED', error: expect.stringMatching(/read token/) });
        expect(await ask({ ...query, token: 'not-the-read-token' })).toMatchObject({ ok: false, code: 'UNAUTHORIZED' });
      }
      // An unauthorised caller learns nothing about its request's validity either.
      expect(await ask({ op: 'no-such-op', token: 'x' })).toMatchObject({ ok: false, code: 'UNAUTHORIZED' });
      expect(logged.filter((l) => l.startsWith('warn: refused a NATS query'))).toHaveLength(queries.length * 2 + 1);
      expect(logged.join('\n')).toMatch(/refused a NATS query "audit" on cluster prod: no read token/);
      expect(logged.join('\n')).toMatch(/refused a NATS query "audit" on cluster prod: a wrong read token/);
      expect(logged.join('\n')).not.toContain('not-the-read-token');
    });
  });

  it('answers queries that carry the read token or the admin token', async () => {
    await withRegistry({ readToken: READ, adminToken: ADMIN }, async (logged) => {
      const sequence = await lastEventSequence(opened.nc, names);
      for (const token of [READ, ADMIN]) {
        expect(await ask({ op: 'cluster', atLeast: sequence, waitMs: 10_000, token })).toMatchObject({ ok: true, exists: true, sequence });
        expect(await ask({ op: 'audit', node: 'a', atLeast: sequence, waitMs: 10_000, token })).toMatchObject({ ok: true, focus: { cluster, node: 'a' } });
      }
      // A bad request from an authorised caller is still a bad request.
      expect(await ask({ op: 'reclaimable', node: 'a', client: 'XYZ', token: READ })).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
      expect(logged.filter((l) => l.includes('refused'))).toEqual([]);
    });
  });

  it('leaves queries open when no read token is configured (as REST reads are)', async () => {
    await withRegistry({ adminToken: ADMIN }, async () => {
      expect(await ask({ op: 'cluster', atLeast: 1, waitMs: 10_000 })).toMatchObject({ ok: true, exists: true });
    });
  });
});
