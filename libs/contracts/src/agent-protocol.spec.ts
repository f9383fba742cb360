import { MAX_REQUEST_ID_CHARS, parseAgentRequest, readRequestId } from './agent-protocol';

describe('parseAgentRequest', () => {
  it.each([
    [{ op: 'hello' }, { op: 'hello' }],
    [{ id: 7, op: 'create', client: '0a0b', hasSession: true, principalHash: 'ff' }, { op: 'create', client: '0a0b', hasSession: true, principalHash: 'ff' }],
    [{ op: 'check', client: '0a', reclaim: true }, { op: 'check', client: '0a', reclaim: true }],
    [{ op: 'grace_start', graceStart: -5 }, { op: 'grace_start', graceStart: -5 }],
    [{ op: 'grace_done' }, { op: 'grace_done' }],
    [{ op: 'remove', client: '00', extra: 'ignored' }, { op: 'remove', client: '00' }],
    // The empty owner is a client id: nfsdcltrack records `create ""` (SPEC §4.1).
    [{ op: 'create', client: '' }, { op: 'create', client: '' }],
  ])('accepts %j', (body, request) => {
    expect(parseAgentRequest(body)).toEqual({ ok: true, request });
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
    [{ op: 'create', client: 'a' }, /lowercase hex/],
    [{ op: 'create', client: 'ab'.repeat(1025) }, /1024 bytes/],
    [{ op: 'reclaim', client: '0a', hasSession: 1 }, /hasSession/],
    [{ op: 'grace_done', wait: 'no' }, /wait/],
    [{ op: 'grace_start', graceStart: 1.5 }, /graceStart/],
  ])('refuses %j', (body, error) => {
    const r = parseAgentRequest(body);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(error);
  });
});

describe('readRequestId', () => {
  let deep: unknown = 5;
  for (let i = 0; i < 5000; i++) deep = [deep];

  it.each([
    [{ op: 'hello' }, null],
    [{ id: null }, null],
    [{ id: 7 }, 7],
    [{ id: -0.5 }, -0.5],
    [{ id: 'a'.repeat(MAX_REQUEST_ID_CHARS) }, 'a'.repeat(MAX_REQUEST_ID_CHARS)],
    [[1], null],
    ['text', null],
  ])('echoes the id of %j', (body, id) => {
    expect(readRequestId(body)).toEqual({ ok: true, id });
  });

  it.each([
    ['an array nested 5,000 deep', { id: deep }],
    ['an object', { id: { a: 1 } }],
    ['a boolean', { id: true }],
    ['an overlong string', { id: 'a'.repeat(MAX_REQUEST_ID_CHARS + 1) }],
  ])('refuses %s', (_what, body) => {
    expect(readRequestId(body)).toEqual({ ok: false, error: expect.stringMatching(/"id" must be a string/) });
  });
});
