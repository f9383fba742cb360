import { CldFrameSplitter, encodeUpcall } from './index';

// A real nfsd session: GetVersion goes out with v1 ops (1034 bytes), the rest as v2 (1067 bytes).
const session = [
  encodeUpcall({ version: 1, cmd: 'GetVersion', xid: 1 }),
  encodeUpcall({ version: 2, cmd: 'GraceStart', xid: 2 }),
  encodeUpcall({ version: 2, cmd: 'Create', xid: 3, name: Buffer.from('client-a') }),
  encodeUpcall({ version: 1, cmd: 'Check', xid: 4, name: Buffer.from('client-b') }),
];
const stream = Buffer.concat(session);

function feed(splitter: CldFrameSplitter, chunks: Buffer[]): Buffer[] {
  const frames: Buffer[] = [];
  for (const chunk of chunks) {
    const r = splitter.push(chunk);
    expect(r.error).toBeNull();
    frames.push(...r.frames);
  }
  return frames;
}

describe('CldFrameSplitter', () => {
  it('sizes each frame from its own cm_vers, so v1 and v2 messages can share a connection', () => {
    const frames = feed(new CldFrameSplitter(), [stream]);
    expect(frames.map((f) => f.length)).toEqual([1034, 1067, 1067, 1034]);
    expect(frames).toEqual(session);
  });

  it('reassembles frames fed one byte at a time', () => {
    const splitter = new CldFrameSplitter();
    const frames = feed(splitter, [...stream].map((b) => Buffer.from([b])));
    expect(frames).toEqual(session);
    expect(splitter.bufferedBytes).toBe(0);
    expect(splitter.end()).toBeNull();
  });

  it('gives the same frames wherever a read splits the stream', () => {
    for (let cut = 1; cut < stream.length; cut += 97) {
      const frames = feed(new CldFrameSplitter(), [stream.subarray(0, cut), stream.subarray(cut)]);
      expect(frames).toEqual(session);
    }
  });

  it('keeps a partial frame until the rest arrives, and reports it if the stream ends first', () => {
    const splitter = new CldFrameSplitter();
    expect(feed(splitter, [stream.subarray(0, 1500)])).toEqual([session[0]]);
    expect(splitter.bufferedBytes).toBe(1500 - 1034);
    expect(splitter.end()).toMatchObject({ kind: 'truncated-at-eof', version: 2, offset: 1034 });
  });

  it('returns copies, not views of the caller buffer', () => {
    const chunk = Buffer.from(stream);
    const [first] = feed(new CldFrameSplitter(), [chunk]);
    chunk.fill(0);
    expect(first).toEqual(session[0]);
  });

  it('stops for good at a frame whose version it cannot size, after delivering earlier frames', () => {
    const bad = Buffer.alloc(1067);
    bad[0] = 3;
    const splitter = new CldFrameSplitter();
    const r = splitter.push(Buffer.concat([session[0]!, bad]));
    expect(r.frames).toEqual([session[0]]);
    expect(r.error).toMatchObject({ kind: 'unsupported-version', version: 3, offset: 1034 });
    expect(splitter.push(session[1]!)).toEqual({ frames: [], error: r.error });
    expect(splitter.end()).toBe(r.error);
  });
});
