import { installProcessGuards } from './process-guards';

describe('process guards', () => {
  it('logs a stray rejection with the service name and its stack, and keeps running', () => {
    const lines: string[] = [];
    const guards = installProcessGuards('gk-test', (l) => lines.push(l));
    try {
      process.emit('unhandledRejection', new Error('lost in a .then'), Promise.resolve());
      process.emit('unhandledRejection', { odd: 1 }, Promise.resolve());
      expect(guards.strayRejections).toBe(2);
      expect(lines[0]).toMatch(/^gk-test: unhandled promise rejection \(kept running\): Error: lost in a \.then\n\s+at /);
      expect(lines[1]).toContain('non-error value {"odd":1}');
    } finally {
      guards.uninstall();
    }
  });

  it('says why before it exits on an uncaught exception', () => {
    const lines: string[] = [];
    const guards = installProcessGuards('gk-test', (l) => lines.push(l));
    const exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    try {
      (process.emit as (event: string, ...args: unknown[]) => boolean)('uncaughtException', new TypeError('boom'), 'uncaughtException');
      expect(lines[0]).toMatch(/^gk-test: exiting after an uncaught exception \(uncaughtException\): TypeError: boom/);
      expect(exit).toHaveBeenCalledWith(70);
    } finally {
      exit.mockRestore();
      guards.uninstall();
    }
  });
});
