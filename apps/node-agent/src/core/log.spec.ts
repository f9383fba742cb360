import { stderrLog } from './log';

describe('stderrLog', () => {
  it('writes a message holding a forged client id as one escaped line', () => {
    const written: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation(((chunk: string) => {
      written.push(chunk);
      return true;
    }) as typeof process.stderr.write);
    try {
      stderrLog('node-agent c/a').warn('create client=ab\nZ ERROR [node-agent c/b] forged\x1b]0;title\x07');
    } finally {
      spy.mockRestore();
    }
    expect(written).toHaveLength(1);
    expect(written[0]!.endsWith('\n')).toBe(true);
    expect(written[0]!.slice(0, -1)).not.toMatch(/[\n\x1b\x07]/);
    expect(written[0]).toContain('create client=ab\\nZ ERROR [node-agent c/b] forged\\x1b]0;title\\x07');
  });
});
