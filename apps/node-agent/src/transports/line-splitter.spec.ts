import { LineSplitter } from './line-splitter';

const feed = (s: LineSplitter, ...chunks: string[]) => chunks.map((c) => s.push(Buffer.from(c)));

describe('LineSplitter', () => {
  it('cuts lines anywhere in the byte stream, including inside a multi-byte character', () => {
    const s = new LineSplitter(100);
    const bytes = Buffer.from('{"a":"é"}\n{"b":2}\n{"c"');
    const results = [s.push(bytes.subarray(0, 7)), s.push(bytes.subarray(7, 12)), s.push(bytes.subarray(12)), s.push(Buffer.from(':3}\n'))];
    expect(results.flatMap((r) => r.lines)).toEqual(['{"a":"é"}', '{"b":2}', '{"c":3}']);
    expect(results.every((r) => r.overflows === 0)).toBe(true);
  });

  it('drops a line longer than the bound once, up to its newline, and reads on', () => {
    const s = new LineSplitter(10);
    const r = feed(s, 'short\n0123456789', 'abc', 'def\nnext\n');
    expect(r.map((x) => x.lines)).toEqual([['short'], [], ['next']]);
    expect(r.map((x) => x.overflows)).toEqual([0, 1, 0]);
  });

  it('counts an over-long line found complete within one chunk', () => {
    const s = new LineSplitter(4);
    expect(s.push(Buffer.from('toolong\nok\n'))).toEqual({ lines: ['ok'], overflows: 1 });
  });

  it('accepts a line of exactly the bound', () => {
    const s = new LineSplitter(4);
    expect(feed(s, '12', '34\n')).toEqual([{ lines: [], overflows: 0 }, { lines: ['1234'], overflows: 0 }]);
  });
});
