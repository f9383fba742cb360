import type { LoggerService } from '@nestjs/common';
import type { Logger } from 'pino';

/**
 * Nest's own start-up chatter ("Starting Nest application...", "Mapped {/health, GET} route", one
 * "dependencies initialized" per module): written at debug, not info, so that a service's log at
 * the default level holds our events only (GK_LOG_LEVEL=debug shows them again).
 */
export const FRAMEWORK_CONTEXTS: ReadonlySet<string> = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication']);

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/**
 * Nest's LoggerService over the service's pino logger: `new Logger('ctx').log(...)` in our code
 * and Nest's own messages become records with `context`, errors with `err`. Nest passes the
 * context as the last argument and, for errors, a stack before it.
 */
export class NestLogger implements LoggerService {
  private readonly children = new Map<string, Logger>();

  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: Level, message: unknown, params: unknown[]): void {
    const rest = [...params];
    const context = typeof rest[rest.length - 1] === 'string' && !(level === 'error' && rest.length === 1 && isStack(rest[0])) ? (rest.pop() as string) : undefined;
    const stack = level === 'error' && isStack(rest[0]) ? (rest.shift() as string) : undefined;
    if (rest[0] === undefined) rest.shift(); // Nest's error(message) with a context passes an undefined stack
    const logger = context ? this.child(context) : this.logger;
    const effective: Level = level === 'info' && context && FRAMEWORK_CONTEXTS.has(context) ? 'debug' : level;
    const fields: Record<string, unknown> = {};
    if (message instanceof Error) fields.err = message;
    else if (stack) fields.err = { type: 'Error', message: typeof message === 'string' ? message : '', stack };
    if (rest.length) fields.details = rest;
    const text = message instanceof Error ? message.message : typeof message === 'string' ? message : undefined;
    if (text === undefined) fields.data = message;
    logger[effective](fields, text ?? '');
  }

  private child(context: string): Logger {
    let child = this.children.get(context);
    if (!child) this.children.set(context, (child = this.logger.child({ context })));
    return child;
  }
}

function isStack(value: unknown): value is string {
  return typeof value === 'string' && /\n\s+at /.test(value);
}
