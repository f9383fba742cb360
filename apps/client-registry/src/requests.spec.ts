import { ConfigError } from '#service-kit';
import { registryConfig } from './config';
import { parseRegistryRequest } from './requests';

describe('registry requests', () => {
  it('accepts the queries with their fields, and refuses anything else with every problem named', () => {
    expect(parseRegistryRequest({ op: 'reclaimable', node: 'a', client: '0a0b' })).toEqual({ ok: true, request: { op: 'reclaimable', node: 'a', client: '0a0b' } });
    expect(parseRegistryRequest({ op: 'clients', valid: true, limit: 10, after: { node: 'a', client: '01' }, atLeast: 7 }).ok).toBe(true);
    expect(parseRegistryRequest({ op: 'audit', epoch: 2 }).ok).toBe(true);
    const bad = [
      { op: 'reclaimable', node: 'a', client: 'XY' },
      { op: 'reclaimable', node: 'a b', client: '0a' },
      { op: 'clients', limit: 0 },
      { op: 'clients', extra: 1 },
      { op: 'audit', client: '0a', node: 'a' },
      { op: 'audit' },
      { op: 'drop-tables' },
      'reclaimable',
      null,
    ];
    for (const raw of bad) expect(parseRegistryRequest(raw)).toMatchObject({ ok: false, reply: { ok: false, code: 'BAD_REQUEST', error: expect.any(String) } });
  });
});

describe('registry configuration', () => {
  it('needs a database, defaults the rest, and lists every bad variable at once', () => {
    expect(registryConfig({ DATABASE_URL: 'postgres://u@h/db', GK_REPLICA: 'r1' })).toMatchObject({
      natsUrl: 'nats://127.0.0.1:4222', prefix: 'gk', databaseUrl: 'postgres://u@h/db', port: 8082, replica: 'r1', batchEvents: 5000, lockPollMs: 500, quiet: false,
    });
    try {
      registryConfig({ DATABASE_URL: 'mysql://x', GK_ADMIN_PORT: 'abc', GK_REGISTRY_BATCH_EVENTS: '0' });
      throw new Error('should have thrown');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toHaveLength(3);
    }
  });
});
