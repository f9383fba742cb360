import { recordingLogger } from '#testing';
import { installProcessGuards } from './process-guards';

describe('process guards', () => {
  it('logs a stray rejection with its stack, and keeps running', () => {
    const { logger, records } = recordingLogger('gk-test');
    const guards = installProcessGuards(logger);
    try {
      process.emit('unhandledRejection', new Error('lost in a .then'), Promise.resolve());
      process.emit('unhandledRejection', { odd: 1 }, Promise.resolve());
      expect(guards.strayRejections).toBe(2);
      const [first, second] = records();
      expect(first).toMatchObject({ level: 'error', service: 'gk-test', msg: 'unhandled promise rejection (kept running)', err: { type: 'Error', message: 'lost in a .then' } });
      expect(first!.err!.stack).toMatch(/^Error: lost in a \.then\n\s+at /);
      expect(second!.value).toBe('non-error value {"odd":1}');
    } finally {
      guards.uninstall();
    }
  });

  it('says why before it exits on an uncaught exception', () => {
    const { logger, records } = recordingLogger('gk-test');
    const guards = installProcessGuards(logger);
    const exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    try {
      (process.emit as (event: string, ...args: unknown[]) => boolean)('uncaughtException', new TypeError('boom'), 'uncaughtException');
      expect(records()[0]).toMatchObject({ level: 'fatal', msg: 'exiting after an uncaught exception (uncaughtException)', origin: 'uncaughtException', err: { type: 'TypeError', message: 'boom' } });
      expect(exit).toHaveBeenCalledWith(70);
    } finally {
      exit.mockRestore();
      guards.uninstall();
    }
  });
});
