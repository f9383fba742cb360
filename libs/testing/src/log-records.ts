import { createServiceLogger, type Logger, type LogLevel } from '#service-kit';

export interface LogRecord {
  level: string;
  msg: string;
  context?: string;
  err?: { type?: string; message?: string; stack?: string };
  [field: string]: unknown;
}

/** A service logger (JSON) whose records a test reads back: `lines` as written, `records()` parsed. */
export function recordingLogger(service = 'gk-test', level: LogLevel = 'trace'): { logger: Logger; lines: string[]; records(): LogRecord[] } {
  const lines: string[] = [];
  const logger = createServiceLogger(service, { format: 'json', level, destination: { write: (line: string) => lines.push(line) } });
  return { logger, lines, records: () => lines.map((l) => JSON.parse(l) as LogRecord) };
}
