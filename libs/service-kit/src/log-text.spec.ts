import { escapeControlChars, escapeStack } from './log-text';

const forged = 'c0ffee\n2026-12-01T00:00:00Z INFO forged line\r\x1b[2J\x00\x7f\u0085\u2028\u202edone';

describe('escapeControlChars', () => {
  it('writes every control, separator and bidi override as a visible escape', () => {
    expect(escapeControlChars(forged)).toBe('c0ffee\\n2026-12-01T00:00:00Z INFO forged line\\r\\x1b[2J\\x00\\x7f\\x85\\u2028\\u202edone');
  });

  it('leaves ordinary text, including non-ASCII letters, unchanged', () => {
    const text = 'node a: client 0a1b "é ü 名" {json} \\ tab-free';
    expect(escapeControlChars(text)).toBe(text);
  });
});

describe('escapeStack', () => {
  it('keeps the line breaks of a stack and escapes everything else', () => {
    expect(escapeStack('Error: bad \x1b[2J\n    at f (x.js:1:1)')).toBe('Error: bad \\x1b[2J\n    at f (x.js:1:1)');
  });
});
