import { validateDecision, type GkEventOf } from '#contracts';
import { invalidationMessageId, invalidationMessages } from './invalidation';

const base = { v: 1 as const, cluster: 'c', time: '2026-01-01T00:00:00.000Z', actor: 't' };
const hex = (i: number, bytes = 4) => i.toString(16).padStart(bytes * 2, '0');

describe('invalidations derived from a grace end', () => {
  it('chunks a large loss into parts below the message size limit, with deterministic ids, each a valid decision', () => {
    const clients = Array.from({ length: 3000 }, (_, i) => hex(i, 128));
    const end: GkEventOf<'GraceEnded'> = { ...base, type: 'GraceEnded', id: 'd9/0', epoch: 3, recoveryEpoch: 2, reason: 'deadline', abandonedNodes: ['a'] };
    const messages = invalidationMessages('c', end, new Map([['a', clients]]));
    expect(messages.length).toBeGreaterThan(1);
    expect(messages.map((m) => m.id)).toEqual(messages.map((_, i) => `invalidated/c/2/a/${i}`));
    expect(messages.flatMap((m) => (m.events[0] as GkEventOf<'ClientRecordsInvalidated'>).clients)).toEqual(clients);
    for (const m of messages) {
      expect(validateDecision(m).ok).toBe(true);
      expect(JSON.stringify(m).length).toBeLessThan(512 * 1024);
      expect(m.events[0]).toMatchObject({ part: expect.any(Number), parts: messages.length, causation: 'd9/0', time: end.time, reason: 'deadline' });
    }
    expect(invalidationMessages('c', end, new Map([['a', clients]]))).toEqual(messages);
  });

  it('keeps ids within the 200 characters an id may have', () => {
    const id = invalidationMessageId('c'.repeat(128), 12345, 'n'.repeat(128), 3);
    expect(id.length).toBeLessThanOrEqual(190);
    expect(id).toMatch(/^invalidated\/[0-9a-f]{64}$/);
    expect(invalidationMessageId('c'.repeat(128), 12345, 'n'.repeat(128), 4)).not.toBe(id);
  });
});
