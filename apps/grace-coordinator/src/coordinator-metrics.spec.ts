import { Registry } from 'prom-client';
import { CoordinatorMetrics, opLabel } from './coordinator-metrics';
import { ALL_OPS } from './operations';

describe('gk_coordinator_requests_total', () => {
  it('keeps one series per operation however many distinct ops callers send', async () => {
    const registry = new Registry();
    const metrics = new CoordinatorMetrics(registry);
    const bad = { ok: false as const, code: 'BAD_REQUEST' as const, error: 'unknown op' };
    for (let i = 0; i < 1000; i++) metrics.request('nats', `forged-op-${i}\n`, bad);
    metrics.request('rest', 'status', bad);
    const series = (await registry.getSingleMetric('gk_coordinator_requests_total')!.get()).values;
    expect(series).toEqual(expect.arrayContaining([
      expect.objectContaining({ labels: { transport: 'nats', op: 'invalid', result: 'BAD_REQUEST' }, value: 1000 }),
      expect.objectContaining({ labels: { transport: 'rest', op: 'status', result: 'BAD_REQUEST' }, value: 1 }),
    ]));
    expect(series).toHaveLength(2);
  });

  it('names every real operation as itself', () => {
    for (const op of ALL_OPS) expect(opLabel(op)).toBe(op);
    expect(opLabel('__proto__')).toBe('invalid');
  });
});
