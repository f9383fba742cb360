import { decodeDecision, DecisionMessage, encodeDecision, streamNames, subjects, validateDecision } from './index';

const event = (overrides: Record<string, unknown> = {}) => ({
  type: 'MemberAdded', v: 1, id: 'd1/0', cluster: 'c1', epoch: 1, time: '2026-01-01T00:00:00.000Z', actor: 'gracectl:root', node: 'a', ...overrides,
});
const bytes = (value: unknown) => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));

describe('decision codec', () => {
  it('round-trips a valid decision', () => {
    const m = { kind: 'gk.decision', v: 1, id: 'd1', events: [event(), event({ id: 'd1/1', type: 'NodeEnforcing' })] } as DecisionMessage;
    expect(decodeDecision(encodeDecision(m))).toEqual({ ok: true, value: m });
  });

  it.each([
    ['not JSON', 'nope{', 'not-json'],
    ['invalid UTF-8', new Uint8Array([0xff, 0xfe]), 'not-json'],
    ['a bare event', event(), 'bad-envelope'],
    ['no events', { kind: 'gk.decision', v: 1, id: 'x', events: [] }, 'bad-envelope'],
    ['a future envelope version', { kind: 'gk.decision', v: 2, id: 'x', events: [event()] }, 'bad-envelope'],
    ['an unknown event type', { kind: 'gk.decision', v: 1, id: 'x', events: [event({ type: 'Bogus' })] }, 'unknown-event-type'],
    ['a missing field', { kind: 'gk.decision', v: 1, id: 'x', events: [event({ node: undefined })] }, 'invalid-event'],
    ['an extra field', { kind: 'gk.decision', v: 1, id: 'x', events: [event({ extra: 1 })] }, 'invalid-event'],
    ['a bad client id', { kind: 'gk.decision', v: 1, id: 'x', events: [event({ type: 'ClientRemoved', node: 'a', clients: ['XYZ'] })] }, 'invalid-event'],
    ['a client id over 1024 bytes', { kind: 'gk.decision', v: 1, id: 'x', events: [event({ type: 'ClientRemoved', node: 'a', clients: ['ab'.repeat(1025)] })] }, 'invalid-event'],
    ['a non-ISO time', { kind: 'gk.decision', v: 1, id: 'x', events: [event({ time: 'yesterday' })] }, 'invalid-event'],
  ])('reports %s as a typed error, never throws', (_, input, kind) => {
    const data = input instanceof Uint8Array ? input : bytes(input);
    const result = decodeDecision(data);
    expect(result).toMatchObject({ ok: false, error: { kind } });
  });

  it('quotes an unknown event type of any size in a bounded message (found by test/fuzz)', () => {
    const result = decodeDecision(bytes({ kind: 'gk.decision', v: 1, id: 'x', events: [event({ type: 'x'.repeat(170_000) })] }));
    expect(result).toMatchObject({ ok: false, error: { kind: 'unknown-event-type' } });
    expect(result.ok ? '' : result.error.message.length).toBeLessThan(200);
  });

  it('accepts a 1024-byte client id', () => {
    const m = { kind: 'gk.decision', v: 1, id: 'x', events: [event({ type: 'ClientRemoved', node: 'a', clients: ['ab'.repeat(1024)] })] };
    expect(validateDecision(m as DecisionMessage).ok).toBe(true);
  });
});

describe('subjects', () => {
  it('derives stream and subjects from one prefix, and refuses ids that would break a subject', () => {
    const n = streamNames('gk_t1');
    expect(n.stream).toBe('GK_T1_EVENTS');
    expect(subjects.cluster(n, 'prod')).toBe('gk_t1.cluster.prod');
    expect(subjects.all(n)).toBe('gk_t1.>');
    // Request/reply subjects must stay outside what the stream captures.
    expect(subjects.coordinatorRequests(n, 'prod').startsWith('gk_t1.')).toBe(false);
    expect(subjects.registryRequests(n, 'prod').startsWith('gk_t1.')).toBe(false);
    expect(() => subjects.cluster(n, 'a.b')).toThrow(/invalid cluster id/);
    expect(() => streamNames('bad prefix')).toThrow(/invalid subject prefix/);
  });
});
