import { recordingLogger } from '#testing';
import { ConfigError } from './config';
import { createServiceLogger, logSettings, prettyLine } from './logger';

const forged = 'c0ffee\n2026-12-01T00:00:00Z INFO forged line\r\x1b[2J\x00\x7f\u0085\u2028\u202edone';
const escaped = 'c0ffee\\n2026-12-01T00:00:00Z INFO forged line\\r\\x1b[2J\\x00\\x7f\\x85\\u2028\\u202edone';

describe('service logger (JSON)', () => {
  it('writes one JSON object per line: level, ISO time, service, pid, context, message and fields', () => {
    const { logger, lines, records } = recordingLogger('client-registry', 'info');
    logger.child({ context: 'projector' }).info({ checkpoint: 42 }, 'active on rm_gk_events_g1');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    expect(records()[0]).toEqual({
      level: 'info', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), service: 'client-registry', pid: process.pid,
      context: 'projector', checkpoint: 42, msg: 'active on rm_gk_events_g1',
    });
  });

  it('escapes a forged id in the message, in string fields and in field names; a record stays one line', () => {
    const { logger, lines, records } = recordingLogger();
    logger.warn({ client: forged, nested: { owner: [forged] }, [forged]: 1 }, `reclaim by ${forged}`);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.slice(0, -1)).not.toMatch(/[\n\r\x00-\x1f\x7f\u0085\u2028\u202e]/);
    const record = records()[0]!;
    expect(record.msg).toBe(`reclaim by ${escaped}`);
    expect(record.client).toBe(escaped);
    expect(record.nested).toEqual({ owner: [escaped] });
    expect(record[escaped]).toBe(1);
  });

  it('logs an error with type, message and stack; the message of a bare error is escaped too', () => {
    const { logger, records } = recordingLogger();
    const err = Object.assign(new Error(`no such client ${forged}`), { code: 'ENOENT' });
    logger.error(err);
    logger.error({ err }, 'lookup failed');
    const [bare, withMessage] = records();
    expect(bare).toMatchObject({ level: 'error', msg: `no such client ${escaped}`, err: { type: 'Error', message: `no such client ${escaped}`, code: 'ENOENT' } });
    expect(withMessage!.msg).toBe('lookup failed');
    expect(withMessage!.err!.stack).toMatch(/\n\s+at /);
    expect(withMessage!.err!.stack).not.toMatch(/\x1b|\u202e/);
  });

  it('drops records below its level', () => {
    const { logger, records } = recordingLogger('gk-test', 'warn');
    logger.info('not shown');
    logger.debug('not shown');
    logger.warn('shown');
    expect(records().map((r) => r.msg)).toEqual(['shown']);
  });
});

describe('service logger (pretty)', () => {
  it('writes a readable line: time, level, service, context, message, fields, and an escaped message', () => {
    const lines: string[] = [];
    const logger = createServiceLogger('grace-coordinator', { format: 'pretty', level: 'info', colors: false, destination: { write: (l: string) => lines.push(l) } });
    logger.child({ context: 'grace-coordinator' }).info({ epoch: 3 }, `default: GraceStarted by ${forged}`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  grace-coordinator \[grace-coordinator\] default: GraceStarted by c0ffee\\n2026/);
    expect(lines[0]).toContain(`${escaped} epoch=3\n`);
    expect(lines[0]!.slice(0, -1)).not.toContain('\n');
  });

  it('puts an error\'s stack below the line, indented', () => {
    const line = prettyLine(JSON.stringify({ level: 'error', time: '2026-12-01T04:25:08.123Z', service: 's', msg: 'failed', err: { type: 'Error', message: 'x', stack: 'Error: x\n    at f (a.js:1:1)' } }));
    expect(line).toBe('04:25:08.123 ERROR s failed\n    Error: x\n        at f (a.js:1:1)\n');
  });

  it('colours only the level, and only when asked', () => {
    const json = JSON.stringify({ level: 'warn', time: '2026-12-01T04:25:08.123Z', service: 's', msg: 'm' });
    expect(prettyLine(json, true)).toBe('04:25:08.123 \x1b[33mWARN \x1b[0m s m\n');
    expect(prettyLine(json, false)).not.toContain('\x1b');
  });

  it('passes a line that is not JSON through unchanged', () => {
    expect(prettyLine('warning: plain text')).toBe('warning: plain text\n');
  });
});

describe('logSettings', () => {
  it('is JSON when stdout is not a terminal, pretty on a terminal, info by default', () => {
    expect(logSettings({}, false)).toEqual({ format: 'json', level: 'info' });
    expect(logSettings({}, true)).toEqual({ format: 'pretty', level: 'info' });
  });

  it('follows GK_LOG_FORMAT and GK_LOG_LEVEL (and GK_DEBUG=1)', () => {
    expect(logSettings({ GK_LOG_FORMAT: 'pretty', GK_LOG_LEVEL: 'warn' }, false)).toEqual({ format: 'pretty', level: 'warn' });
    expect(logSettings({ GK_LOG_FORMAT: 'json' }, true)).toEqual({ format: 'json', level: 'info' });
    expect(logSettings({ GK_DEBUG: '1' }, false).level).toBe('debug');
  });

  it('names the choices when a value is wrong', () => {
    expect(() => logSettings({ GK_LOG_FORMAT: 'xml', GK_LOG_LEVEL: 'loud' }, false)).toThrow(ConfigError);
    try {
      logSettings({ GK_LOG_FORMAT: 'xml', GK_LOG_LEVEL: 'loud' }, false);
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        'GK_LOG_FORMAT: "xml" is not one of json, pretty',
        'GK_LOG_LEVEL: "loud" is not one of trace, debug, info, warn, error, fatal, silent',
      ]);
    }
  });
});
