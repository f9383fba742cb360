import { escapeControlChars } from './control-chars';
import { EscapingConsoleLogger } from './log-text';

/** What `write` received while `run` ran, on stdout and stderr. */
function captureOutput(run: () => void): string {
  const written: string[] = [];
  const spies = [process.stdout, process.stderr].map((stream) =>
    jest.spyOn(stream, 'write').mockImplementation(((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }) as typeof stream.write));
  try {
    run();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return written.join('');
}

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

describe('EscapingConsoleLogger', () => {
  it('prints a message with a forged id on one line, escaped', () => {
    const logger = new EscapingConsoleLogger({ colors: false });
    const out = captureOutput(() => logger.warn(`reclaim by ${forged}`, 'test'));
    expect(out.split('\n').filter(Boolean)).toHaveLength(1);
    expect(out).toContain('reclaim by c0ffee\\n2026-12-01T00:00:00Z INFO forged line\\r\\x1b[2J');
    expect(out).not.toContain('\x1b[2J');
  });
});
