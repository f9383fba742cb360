import { Logger } from '@nestjs/common';
import { recordingLogger } from '#testing';
import { NestLogger } from './nest-logger';

describe('NestLogger', () => {
  it('gives a Nest Logger\'s context to the record and escapes its message', () => {
    const { logger, records } = recordingLogger();
    const nest = new NestLogger(logger);
    nest.warn('reclaim by c0ffee\nZ INFO forged\x1b[2J', 'client-registry');
    expect(records()).toEqual([expect.objectContaining({ level: 'warn', context: 'client-registry', msg: 'reclaim by c0ffee\\nZ INFO forged\\x1b[2J' })]);
  });

  it('writes Nest\'s start-up chatter at debug, not info; its warnings stay warnings', () => {
    const { logger, records } = recordingLogger('gk-test', 'trace');
    const nest = new NestLogger(logger);
    nest.log('Mapped {/health, GET} route', 'RouterExplorer');
    nest.log('Starting Nest application...', 'NestFactory');
    nest.warn('something odd', 'NestApplication');
    nest.log('projector role: active', 'client-registry');
    expect(records().map((r) => [r.level, r.context])).toEqual([['debug', 'RouterExplorer'], ['debug', 'NestFactory'], ['warn', 'NestApplication'], ['info', 'client-registry']]);
  });

  it('keeps an error\'s stack and context as Nest passes them (message, stack, context)', () => {
    const { logger, records } = recordingLogger();
    const nest = new NestLogger(logger);
    const err = new Error('db down');
    nest.error('Unhandled request error', err.stack, 'ExceptionsHandler');
    nest.error(err);
    nest.error('just a message', 'SomeContext');
    const [withStack, bare, plain] = records();
    expect(withStack).toMatchObject({ level: 'error', context: 'ExceptionsHandler', msg: 'Unhandled request error', err: { message: 'Unhandled request error' } });
    expect(withStack!.err!.stack).toContain('Error: db down\n    at ');
    expect(bare).toMatchObject({ msg: 'db down', err: { type: 'Error', message: 'db down' } });
    expect(plain).toMatchObject({ msg: 'just a message', context: 'SomeContext' });
    expect(plain!.err).toBeUndefined();
  });

  it('serves `new Logger(context)` in our code once Nest uses it', () => {
    const { logger, records } = recordingLogger();
    Logger.overrideLogger(new NestLogger(logger));
    try {
      new Logger('grace-coordinator').log('default: GraceStarted (epoch 2)');
      new Logger('grace-coordinator').error('deadline failed');
    } finally {
      Logger.overrideLogger(true);
    }
    expect(records().map((r) => [r.level, r.context, r.msg])).toEqual([['info', 'grace-coordinator', 'default: GraceStarted (epoch 2)'], ['error', 'grace-coordinator', 'deadline failed']]);
  });
});
