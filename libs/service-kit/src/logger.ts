import { format as formatTime } from 'node:util';
import pino, { type DestinationStream, type Logger } from 'pino';
import { ConfigError } from './config';
import { escapeControlChars, escapeStack } from './log-text';

/**
 * The one log set-up of every Gracekeeper service (grace-coordinator, client-registry,
 * node-agent): pino records, one JSON object per line (`GK_LOG_FORMAT=json`, the default when
 * stdout is not a terminal), or one readable line per record (`pretty`, the default on a
 * terminal). `GK_LOG_LEVEL` sets the least level written (default info). Every string in a record
 * is escaped (log-text.ts): ids from requests and from the stream never reach a log raw.
 *
 * A JSON record: {"level":"info","time":"<ISO 8601>","service":"client-registry","pid":1,
 * "context":"client-registry","msg":"…", …fields}; errors under "err" {type,message,stack}.
 */
export type { Logger } from 'pino';

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogSettings {
  format: LogFormat;
  level: LogLevel;
}

/** Reads GK_LOG_FORMAT and GK_LOG_LEVEL (GK_DEBUG=1 still means debug); a wrong value is a ConfigError naming the choices. */
export function logSettings(env: NodeJS.ProcessEnv = process.env, isTerminal = !!process.stdout.isTTY): LogSettings {
  const problems: string[] = [];
  const format = env.GK_LOG_FORMAT || (isTerminal ? 'pretty' : 'json');
  if (!(LOG_FORMATS as readonly string[]).includes(format)) problems.push(`GK_LOG_FORMAT: "${escapeControlChars(format)}" is not one of ${LOG_FORMATS.join(', ')}`);
  const level = env.GK_LOG_LEVEL || (env.GK_DEBUG === '1' ? 'debug' : 'info');
  if (!(LOG_LEVELS as readonly string[]).includes(level)) problems.push(`GK_LOG_LEVEL: "${escapeControlChars(level)}" is not one of ${LOG_LEVELS.join(', ')}`);
  if (problems.length) throw new ConfigError(problems);
  return { format: format as LogFormat, level: level as LogLevel };
}

export interface ServiceLoggerOptions extends Partial<LogSettings> {
  /** Where lines go; default process.stdout (synchronous for files and pipes: nothing is lost at exit). */
  destination?: { write(line: string): unknown };
  /** Colours in pretty mode; default when the destination is a terminal and NO_COLOR is unset. */
  colors?: boolean;
}

/** The root logger of a process named `service`; `logger.child({ context })` for each part. */
export function createServiceLogger(service: string, options: ServiceLoggerOptions = {}): Logger {
  const settings = { ...logSettingsOrDefaults(), ...definedOnly(options) };
  const out = options.destination ?? process.stdout;
  const destination: DestinationStream = settings.format === 'pretty'
    ? { write: (line: string) => void out.write(prettyLine(line, options.colors ?? (out === process.stdout && !!process.stdout.isTTY && !process.env.NO_COLOR))) }
    : { write: (line: string) => void out.write(line) };
  return pino({
    level: settings.level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Errors are turned into {type, message, stack, code} by escapeRecord, escaped on the way.
    serializers: { err: (err: unknown) => err },
    formatters: {
      level: (label) => ({ level: label }),
      log: (record) => escapeRecord(record) as Record<string, unknown>,
    },
    hooks: {
      // The message is a string we build from ids and texts from outside: escaped like the fields.
      logMethod(args, method) {
        const at = typeof args[0] === 'string' ? 0 : typeof args[1] === 'string' ? 1 : -1;
        if (at >= 0) args[at] = escapeControlChars(args[at] as string);
        else if (args[0] instanceof Error && args.length === 1) args.push(escapeControlChars(args[0].message));
        return method.apply(this, args as Parameters<typeof method>);
      },
    },
  }, destination);
}

/** Settings from the environment, or the defaults when they are invalid (runService reports that as a ConfigError first). */
function logSettingsOrDefaults(): LogSettings {
  try {
    return logSettings();
  } catch {
    return { format: process.stdout.isTTY ? 'pretty' : 'json', level: 'info' };
  }
}

function definedOnly(options: ServiceLoggerOptions): Partial<LogSettings> {
  return { ...(options.format ? { format: options.format } : {}), ...(options.level ? { level: options.level } : {}) };
}

/** Every string in a record escaped; a stack keeps its line breaks (it comes from our code), nothing else. */
function escapeRecord(value: unknown, key = '', depth = 0): unknown {
  if (typeof value === 'string') return key === 'stack' ? escapeStack(value) : escapeControlChars(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => escapeRecord(v, '', depth + 1));
  if (value instanceof Error) {
    const code = (value as NodeJS.ErrnoException).code;
    return { type: value.name, message: escapeControlChars(value.message), stack: escapeStack(value.stack ?? ''), ...(code ? { code: escapeControlChars(String(code)) } : {}) };
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [escapeControlChars(k), escapeRecord(v, k, depth + 1)]));
}

const LEVEL_COLOURS: Record<string, string> = { trace: '90', debug: '36', info: '32', warn: '33', error: '31', fatal: '35' };
const RECORD_KEYS = new Set(['level', 'time', 'service', 'pid', 'context', 'msg', 'err']);

/**
 * One JSON record as a line for a terminal: `HH:MM:SS.mmm LEVEL service [context] message key=value`,
 * an error's stack indented below it. Also used by `npm start` to show services' records.
 */
export function prettyLine(json: string, colors = false): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const paint = (code: string | undefined, text: string) => (colors && code ? `\x1b[${code}m${text}\x1b[0m` : text);
  const level = String(record.level ?? '');
  const time = typeof record.time === 'string' ? record.time.slice(11, 23) : '';
  const context = record.context ? ` [${String(record.context)}]` : '';
  const fields = Object.entries(record).filter(([k]) => !RECORD_KEYS.has(k)).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  const err = record.err as { type?: string; message?: string; stack?: string } | undefined;
  const head = [time, paint(LEVEL_COLOURS[level], level.toUpperCase().padEnd(5)), `${String(record.service ?? '')}${context}`, String(record.msg ?? ''), ...fields].filter(Boolean).join(' ');
  const stack = err ? `\n${(err.stack || formatTime('%s: %s', err.type, err.message)).split('\n').map((l) => `    ${l}`).join('\n')}` : '';
  return `${head}${stack}\n`;
}
