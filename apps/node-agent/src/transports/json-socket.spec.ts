import { replyLine } from './json-socket';

describe('replyLine', () => {
  it('writes a reply as one JSON line', () => {
    expect(replyLine({ id: 7, status: 'OK', epoch: 2 })).toBe('{"id":7,"status":"OK","epoch":2}\n');
  });

  it('answers an error line instead of throwing when the reply cannot be serialised', () => {
    const cyclic: Record<string, unknown> = { status: 'OK' };
    cyclic.self = cyclic;
    for (const reply of [{ id: 1, status: 'OK' as const, n: 1n }, { id: 2, status: 'OK' as const, cyclic }]) {
      const line = replyLine(reply);
      expect(line.endsWith('\n')).toBe(true);
      expect(JSON.parse(line)).toEqual({ id: null, status: 'ERR_BAD_REQUEST', error: expect.stringContaining('the reply could not be written') });
    }
  });
});
