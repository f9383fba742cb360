import { defaultReplicas, durabilityWarning, loopbackOnly, topologyOf } from './durability';

describe('durability defaults', () => {
  it('a clustered NATS system gets R3, a single server R1', () => {
    const three = topologyOf({ cluster: 'c', connect_urls: ['a:1', 'b:1', 'c:1'] } as never);
    expect(three).toEqual({ clustered: true, servers: 3 });
    expect(defaultReplicas(three)).toBe(3);
    expect(defaultReplicas(topologyOf({ cluster: 'c' } as never))).toBe(3); // no_advertise
    expect(defaultReplicas(topologyOf({ cluster: 'c', connect_urls: ['a:1', 'b:1'] } as never))).toBe(1);
    expect(defaultReplicas(topologyOf({} as never))).toBe(1);
    expect(defaultReplicas(topologyOf(undefined))).toBe(1);
  });

  it('warns about R1 on a cluster, and on a single server outside development (loopback)', () => {
    const single = topologyOf({} as never);
    const cluster = topologyOf({ cluster: 'c', connect_urls: ['a:1', 'b:1', 'c:1'] } as never);
    expect(durabilityWarning('GK_EVENTS', 1, cluster, 'nats://127.0.0.1:4222')).toMatch(/1 replica on a 3-server NATS cluster/);
    expect(durabilityWarning('GK_EVENTS', 1, single, 'nats://nats.prod:4222')).toMatch(/1 replica on a single NATS server/);
    expect(durabilityWarning('GK_EVENTS', 1, single, 'nats://127.0.0.1:4222,localhost:4223')).toBeUndefined();
    expect(durabilityWarning('GK_EVENTS', 3, cluster, 'nats://h1:4222')).toBeUndefined();
  });

  it('knows loopback URLs', () => {
    expect(loopbackOnly('nats://127.0.0.1:4222')).toBe(true);
    expect(loopbackOnly('localhost')).toBe(true);
    expect(loopbackOnly('tls://[::1]:4222')).toBe(true);
    expect(loopbackOnly('nats://127.0.0.1:4222,nats://10.0.0.2:4222')).toBe(false);
    expect(loopbackOnly('nats://127.0.0.1.evil.example:4222')).toBe(false);
  });
});
