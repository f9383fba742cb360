// Longer than 300 lines on purpose: one byte-exact case per cld command, status and version (v1 and v2), which read best side by side.
import { endianness } from 'node:os';
import fc from 'fast-check';
import {
  CLD_MSG_V1_SIZE,
  CLD_MSG_V2_SIZE,
  type CldRejectedRequest,
  type CldRequest,
  CldStatus,
  decodeDowncall,
  decodeRequest,
  encodeErrorReply,
  encodeReply,
  encodeUpcall,
  type Endianness,
  GraceStartReplies,
  HOST_ENDIANNESS,
} from './index';

// Expected bytes are written out by hand here (offsets from cld.h), not with the codec's helpers.
const XID = 0x0a0b0c0d;
const xidBytes = (e: Endianness) => (e === 'LE' ? [0x0d, 0x0c, 0x0b, 0x0a] : [0x0a, 0x0b, 0x0c, 0x0d]);
const s16 = (v: number, e: Endianness) => {
  const u = v & 0xffff;
  return e === 'LE' ? [u & 0xff, u >> 8] : [u >> 8, u & 0xff];
};
const sizeOf = (v: number) => (v === 1 ? CLD_MSG_V1_SIZE : CLD_MSG_V2_SIZE);

/** A message as the kernel lays it out: header, then the union at offset 8. */
function handMessage(opts: {
  version: number;
  cmd: number;
  e?: Endianness;
  size?: number;
  name?: Buffer;
  nameLen?: number;
  hash?: Buffer;
  hashLen?: number;
}): Buffer {
  const e = opts.e ?? 'LE';
  const buf = Buffer.alloc(opts.size ?? sizeOf(opts.version));
  buf.set([opts.version, opts.cmd, 0, 0, ...xidBytes(e)], 0);
  if (opts.name || opts.nameLen !== undefined) {
    buf.set(s16(opts.nameLen ?? opts.name!.length, e), 8);
    if (opts.name) buf.set(opts.name, 10);
  }
  if (opts.hash || opts.hashLen !== undefined) {
    buf[1034] = opts.hashLen ?? opts.hash!.length;
    if (opts.hash) buf.set(opts.hash, 1035);
  }
  return buf;
}

function decodeOk(buf: Buffer, e: Endianness = 'LE'): CldRequest {
  const r = decodeRequest(buf, e);
  if (!r.ok) throw new Error(`expected a request, got ${r.error.kind}: ${r.error.message}`);
  return r.value;
}
function decodeRejected(buf: Buffer, e: Endianness = 'LE'): CldRejectedRequest {
  const r = decodeRequest(buf, e);
  if (r.ok || !r.error.replyable) throw new Error('expected a replyable rejection');
  return r.error;
}
/** The request with only cm_status (bytes 2..3) replaced. */
function withStatus(req: Buffer, status: number, e: Endianness = 'LE'): Buffer {
  const out = Buffer.from(req);
  out.set(s16(status, e), 2);
  return out;
}

const NAME = Buffer.from('Linux NFSv4.1 client.example.org', 'latin1');
const HASH = Buffer.alloc(32, 0xab);

describe('cld struct sizes (include/uapi/linux/nfsd/cld.h)', () => {
  it('v1 cld_msg is 1034 bytes and v2 cld_msg_v2 is 1067 bytes', () => {
    expect(CLD_MSG_V1_SIZE).toBe(8 + 2 + 1024);
    expect(CLD_MSG_V2_SIZE).toBe(8 + 2 + 1024 + 1 + 32);
  });
  it('uses the host byte order by default', () => {
    expect(HOST_ENDIANNESS).toBe(endianness());
    const req = encodeUpcall({ version: 2, cmd: 'Check', xid: XID, name: NAME });
    expect([...req.subarray(4, 8)]).toEqual(xidBytes(endianness()));
    expect(decodeRequest(req)).toMatchObject({ ok: true, value: { xid: XID } });
  });
});

describe.each([1, 2])('cld v%i name commands', (version) => {
  it.each([
    ['Create', 0],
    ['Remove', 1],
    ['Check', 2],
  ])('decodes %s (cmd %i) with its xid, name and length', (cmd, code) => {
    const req = handMessage({ version, cmd: code, name: NAME, hash: version === 2 ? HASH : undefined });
    const decoded = decodeOk(req);
    expect(decoded).toMatchObject({ cmd, version, xid: XID, length: sizeOf(version) });
    if (decoded.cmd === 'Create' || decoded.cmd === 'Remove' || decoded.cmd === 'Check') expect(decoded.name).toEqual(NAME);
    if (decoded.cmd === 'Create' || decoded.cmd === 'Check') expect(decoded.principalHash).toEqual(version === 2 ? HASH : null);
  });

  it.each([
    ['success', CldStatus.OK, [0x00, 0x00]],
    ['check miss -EACCES', CldStatus.EACCES, [0xf3, 0xff]],
    ['storage failure -EREMOTEIO', CldStatus.EREMOTEIO, [0x87, 0xff]],
  ])('answers with the request bytes and %s in cm_status', (_label, status, bytes) => {
    const req = handMessage({ version, cmd: 0, name: NAME });
    const reply = encodeReply(decodeOk(req), { kind: 'status', status });
    expect(reply.length).toBe(req.length);
    expect([...reply.subarray(2, 4)]).toEqual(bytes);
    expect(reply).toEqual(withStatus(req, status));
  });

  it('reads a 1024-byte name and rejects 1025 with -ENAMETOOLONG', () => {
    const full = Buffer.alloc(1024, 0x5a);
    expect(decodeOk(handMessage({ version, cmd: 0, name: full }))).toMatchObject({ name: full });
    const err = decodeRejected(handMessage({ version, cmd: 0, nameLen: 1025 }));
    expect(err).toMatchObject({ kind: 'name-too-long', status: CldStatus.ENAMETOOLONG, xid: XID, cmd: 0, length: sizeOf(version) });
    expect([...encodeErrorReply(err).subarray(2, 4)]).toEqual([0xdc, 0xff]);
  });

  it.each([0, 1, 2])('rejects an empty name on cmd %i with -EINVAL', (cmd) => {
    const req = handMessage({ version, cmd, nameLen: 0 });
    const err = decodeRejected(req);
    expect(err).toMatchObject({ kind: 'empty-name', status: CldStatus.EINVAL });
    expect(encodeErrorReply(err)).toEqual(withStatus(req, -22));
  });

  it('decodes GraceStart and streams each client with -EINPROGRESS, then ends with 0', () => {
    const req = handMessage({ version, cmd: 4 });
    const decoded = decodeOk(req);
    expect(decoded.cmd).toBe('GraceStart');

    const client = encodeReply(decoded, { kind: 'client', name: NAME, principalHash: HASH });
    const expected = Buffer.alloc(sizeOf(version));
    expected.set([version, 4, 0x8d, 0xff, ...xidBytes('LE')], 0);
    expected.set([NAME.length, 0], 8);
    expected.set(NAME, 10);
    if (version === 2) {
      expected[1034] = 32;
      expected.set(HASH, 1035);
    }
    expect(client).toEqual(expected);

    const done = encodeReply(decoded, { kind: 'status', status: 0 });
    expect(done).toEqual(req);
  });

  it('streams GraceStart replies as nfsdcld does, the final one still holding the last client', () => {
    const req = handMessage({ version, cmd: 4 });
    const replies = new GraceStartReplies(decodeOk(req));
    expect(replies.end()).toEqual(req);
    const first = replies.client(Buffer.from('first-client-name'));
    const last = replies.client(NAME, HASH);
    expect(first).toEqual(encodeReply(decodeOk(req), { kind: 'client', name: Buffer.from('first-client-name') }));
    expect(replies.end()).toEqual(withStatus(last, 0));
    expect(replies.end(CldStatus.EREMOTEIO)).toEqual(withStatus(last, -121));
    expect(() => new GraceStartReplies(decodeOk(handMessage({ version, cmd: 0, name: NAME })))).toThrow(RangeError);
  });

  it('clears what a longer previous name left in the union of a GraceStart reply', () => {
    const req = handMessage({ version, cmd: 4, name: Buffer.alloc(600, 0x77) });
    const reply = encodeReply(decodeOk(req), { kind: 'client', name: Buffer.from([1, 2, 3]) });
    expect([...reply.subarray(8, 14)]).toEqual([3, 0, 1, 2, 3, 0]);
    expect(reply.subarray(13).every((b) => b === 0)).toBe(true);
  });

  it('answers GetVersion with status 0 and cm_version 2, keeping the request length', () => {
    const req = handMessage({ version, cmd: 5 });
    const reply = encodeReply(decodeOk(req), { kind: 'version' });
    const expected = Buffer.alloc(sizeOf(version));
    expected.set([version, 5, 0, 0, ...xidBytes('LE'), 2], 0);
    expect(reply).toEqual(expected);
  });

  it('answers an unknown command with -EOPNOTSUPP and the same bytes', () => {
    const req = handMessage({ version, cmd: 6, name: NAME });
    const err = decodeRejected(req);
    expect(err).toMatchObject({ kind: 'unknown-command', cmd: 6, xid: XID, version, length: sizeOf(version) });
    expect(encodeErrorReply(err)).toEqual(withStatus(req, -95));
    expect([...encodeErrorReply(err).subarray(2, 4)]).toEqual([0xa1, 0xff]);
  });
});

describe('cld version-specific fields', () => {
  it('reads cm_gracetime from a v1 GraceDone (pre-4.20 kernels send their boot time)', () => {
    const req = handMessage({ version: 1, cmd: 3 });
    req.writeBigInt64LE(1_700_000_000n, 8);
    expect(decodeOk(req)).toMatchObject({ cmd: 'GraceDone', graceTime: 1_700_000_000n });
    expect(encodeReply(decodeOk(req), { kind: 'status', status: 0 })).toEqual(req);
  });

  it('has no grace time in a v2 GraceDone', () => {
    expect(decodeOk(handMessage({ version: 2, cmd: 3 }))).toMatchObject({ cmd: 'GraceDone', graceTime: null });
  });

  it('reads no principal hash from a v2 Remove (the kernel sends a bare cld_name)', () => {
    const decoded = decodeOk(handMessage({ version: 2, cmd: 1, name: NAME, hashLen: 200 }));
    expect(decoded).toEqual(expect.objectContaining({ cmd: 'Remove', name: NAME }));
    expect('principalHash' in decoded).toBe(false);
  });

  it('treats cp_len 0 as no principal', () => {
    expect(decodeOk(handMessage({ version: 2, cmd: 0, name: NAME }))).toMatchObject({ principalHash: null });
  });

  it('rejects a v2 principal hash over 32 bytes with -EINVAL', () => {
    const err = decodeRejected(handMessage({ version: 2, cmd: 0, name: NAME, hashLen: 33 }));
    expect(err).toMatchObject({ kind: 'bad-principal-hash', status: CldStatus.EINVAL });
  });

  it('does not send a principal hash to a v1 kernel', () => {
    const reply = encodeReply(decodeOk(handMessage({ version: 1, cmd: 4 })), { kind: 'client', name: NAME, principalHash: HASH });
    expect(reply.length).toBe(1034);
    expect(reply.subarray(10 + NAME.length).every((b) => b === 0)).toBe(true);
  });
});

describe('cld framing errors', () => {
  it('cannot answer a message shorter than the header', () => {
    const r = decodeRequest(Buffer.from([2, 0, 0, 0, 1]));
    expect(r).toMatchObject({ ok: false, error: { replyable: false, kind: 'truncated', length: 5 } });
  });

  it.each([0, 3, 255])('answers version %i with -EPROTONOSUPPORT at the request length', (version) => {
    const req = handMessage({ version, cmd: 0, size: 1067 });
    const err = decodeRejected(req);
    expect(err).toMatchObject({ kind: 'unsupported-version', status: CldStatus.EPROTONOSUPPORT, version, xid: XID, length: 1067 });
    const reply = encodeErrorReply(err);
    expect(reply).toEqual(withStatus(req, -93));
    expect([...reply.subarray(2, 4)]).toEqual([0xa3, 0xff]);
  });

  it.each([
    [1, 1067],
    [2, 1034],
    [2, 1068],
    [1, 8],
  ])('answers a v%i message of %i bytes with -EINVAL at that length', (version, size) => {
    const req = handMessage({ version, cmd: 2, size });
    const err = decodeRejected(req);
    expect(err).toMatchObject({ kind: 'bad-length', status: CldStatus.EINVAL, length: size, xid: XID });
    expect(encodeErrorReply(err)).toEqual(withStatus(req, -22));
  });
});

describe('cld byte order', () => {
  it('reads and writes big-endian fields when told to', () => {
    const req = handMessage({ version: 2, cmd: 0, name: NAME, e: 'BE' });
    const decoded = decodeOk(req, 'BE');
    expect(decoded).toMatchObject({ xid: XID, name: NAME });
    const reply = encodeReply(decoded, { kind: 'status', status: CldStatus.EREMOTEIO });
    expect(reply).toEqual(withStatus(req, -121, 'BE'));
    expect([...reply.subarray(2, 4)]).toEqual([0xff, 0x87]);
  });
});

describe('cld reply misuse', () => {
  const grace = decodeOk(handMessage({ version: 2, cmd: 4 }));
  const create = decodeOk(handMessage({ version: 2, cmd: 0, name: NAME }));
  it.each([
    ['a version reply to Create', () => encodeReply(create, { kind: 'version' })],
    ['a client reply to Create', () => encodeReply(create, { kind: 'client', name: NAME })],
    ['an empty client name', () => encodeReply(grace, { kind: 'client', name: Buffer.alloc(0) })],
    ['a 1025-byte client name', () => encodeReply(grace, { kind: 'client', name: Buffer.alloc(1025, 1) })],
    ['a 33-byte principal hash', () => encodeReply(grace, { kind: 'client', name: NAME, principalHash: Buffer.alloc(33) })],
    ['a status outside s16', () => encodeReply(create, { kind: 'status', status: -40000 })],
  ])('throws RangeError for %s', (_label, build) => {
    expect(build).toThrow(RangeError);
  });
});

describe('cld kernel side', () => {
  it.each([1, 2] as const)('round-trips a v%i Create through the agent codec', (version) => {
    const upcall = encodeUpcall({ version, cmd: 'Create', xid: XID, name: NAME, principalHash: HASH }, 'LE');
    expect(upcall).toEqual(handMessage({ version, cmd: 0, name: NAME, hash: version === 2 ? HASH : undefined }));
    const reply = encodeReply(decodeOk(upcall, 'LE'), { kind: 'status', status: 0 });
    expect(decodeDowncall(reply, 'LE')).toMatchObject({ ok: true, value: { version, cmd: 0, status: 0, xid: XID, length: upcall.length } });
  });

  it('reads a GraceStart client and a GetVersion answer from downcalls', () => {
    const grace = decodeOk(encodeUpcall({ version: 2, cmd: 'GraceStart', xid: 9 }, 'LE'));
    const client = decodeDowncall(encodeReply(grace, { kind: 'client', name: NAME, principalHash: HASH }), 'LE');
    expect(client).toMatchObject({ ok: true, value: { status: -115, name: NAME, principalHash: HASH } });
    const getVersion = decodeOk(encodeUpcall({ version: 1, cmd: 'GetVersion', xid: 10 }, 'LE'));
    expect(decodeDowncall(encodeReply(getVersion, { kind: 'version' }), 'LE')).toMatchObject({ ok: true, value: { cmVersion: 2, length: 1034 } });
  });

  it('refuses downcalls the kernel would refuse', () => {
    expect(decodeDowncall(Buffer.alloc(4))).toMatchObject({ ok: false });
    expect(decodeDowncall(handMessage({ version: 3, cmd: 0, size: 1067 }))).toMatchObject({ ok: false });
    expect(decodeDowncall(handMessage({ version: 2, cmd: 0, size: 1034 }))).toMatchObject({ ok: false });
  });
});

describe('decodeRequest robustness', () => {
  it('never throws, and every rejection can be answered at the request length', () => {
    const message = fc.oneof(
      fc.uint8Array({ maxLength: 1100 }),
      fc.record({ v: fc.constantFrom(1, 2), cmd: fc.nat(8), len: fc.nat(1100), hl: fc.nat(40) }).map(({ v, cmd, len, hl }) =>
        handMessage({ version: v, cmd, nameLen: len, hashLen: v === 2 ? hl : undefined }),
      ),
    );
    fc.assert(
      fc.property(message, (bytes) => {
        const r = decodeRequest(Buffer.from(bytes));
        if (r.ok) return r.value.length === bytes.length;
        if (!r.error.replyable) return bytes.length < 8;
        return encodeErrorReply(r.error).length === bytes.length;
      }),
      { numRuns: 2000 },
    );
  });
});
