import { parseRequest } from './requests';

describe('parseRequest', () => {
  it.each([
    [{ op: 'hello' }, { op: 'hello' }],
    [{ id: 7, op: 'create', client: '0a0b', hasSession: true, principalHash: 'ff' }, { op: 'create', client: '0a0b', hasSession: true, principalHash: 'ff' }],
    [{ op: 'check', client: '0a', reclaim: true }, { op: 'check', client: '0a', reclaim: true }],
    [{ op: 'grace_start', graceStart: -5 }, { op: 'grace_start', graceStart: -5 }],
    [{ op: 'grace_done' }, { op: 'grace_done' }],
    [{ op: 'remove', client: '00', extra: 'ignored' }, { op: 'remove', client: '00' }],
  ])('accepts %j', (body, request) => {
    expect(parseRequest(body)).toEqual({ ok: true, request });
  });

  it.each([
    [null, /JSON object/],
    [[1], /JSON object/],
    ['hello', /JSON object/],
    [{}, /"op" must be a string/],
    [{ op: 'nope' }, /unknown op "nope"/],
    [{ op: 'toString' }, /unknown op/],
    [{ op: '__proto__' }, /unknown op/],
    [{ op: 'create' }, /create: client/],
    [{ op: 'create', client: '0A' }, /lowercase hex/],
    [{ op: 'create', client: '' }, /lowercase hex/],
    [{ op: 'create', client: 'ab'.repeat(1025) }, /1024 bytes/],
    [{ op: 'reclaim', client: '0a', hasSession: 1 }, /hasSession/],
    [{ op: 'grace_done', wait: 'no' }, /wait/],
    [{ op: 'grace_start', graceStart: 1.5 }, /graceStart/],
  ])('refuses %j', (body, error) => {
    const r = parseRequest(body);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(error);
  });
});
