/**
 * `npm start` shows the services' own events as they happen (a grace period starting and ending,
 * a projector taking over, a warning) while their raw logs stay in the files: the services write
 * JSON records (service-kit logger.ts) to their log file, and this follows the files and prints
 * each record at `minLevel` or above as one short line. Nest's start-up chatter is at debug in the
 * services, so it never shows here.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { escapeControlChars } from '#service-kit';
import { tailOf } from './processes';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

export interface FollowedLog {
  /** Shown before each line, e.g. `node-agent b`. */
  name: string;
  file: string;
}

export interface LogRecordView {
  level: string;
  time?: string;
  msg: string;
  err?: { message?: string };
}

/** A record's short form for a terminal (`HH:MM:SS  name  WARN message`), or undefined below `minLevel`. */
export function eventLine(name: string, line: string, width: number, minLevel = 'info'): string | undefined {
  let record: LogRecordView;
  try {
    record = JSON.parse(line) as LogRecordView;
  } catch {
    // Not a record (a crash of Node itself prints plain text): shown as it is, escaped.
    return line.trim() ? `  ${''.padEnd(8)}  ${name.padEnd(width)}  ${escapeControlChars(line)}` : undefined;
  }
  if (LEVELS.indexOf(record.level) < LEVELS.indexOf(minLevel)) return undefined;
  const time = typeof record.time === 'string' ? record.time.slice(11, 19) : ''.padEnd(8);
  const level = record.level === 'info' ? '' : `${record.level.toUpperCase()} `;
  const err = record.err?.message && !String(record.msg).includes(record.err.message) ? `: ${record.err.message}` : '';
  return `  ${time}  ${name.padEnd(width)}  ${level}${escapeControlChars(`${String(record.msg ?? '')}${err}`)}`;
}

/** Follows `logs` from their current end; every new record at `minLevel` or above goes to `print`. */
export function followLogs(logs: FollowedLog[], print: (line: string) => void, options: { minLevel?: string; everyMs?: number } = {}): { stop(): void } {
  const width = Math.max(...logs.map((l) => l.name.length));
  const state = logs.map((log) => ({ log, offset: sizeOf(log.file), partial: '' }));
  const poll = () => {
    for (const s of state) {
      const size = sizeOf(s.log.file);
      if (size < s.offset) s.offset = 0; // a fresh log
      if (size === s.offset) continue;
      const text = s.partial + readRange(s.log.file, s.offset, size);
      s.offset = size;
      const lines = text.split('\n');
      s.partial = lines.pop() ?? '';
      for (const line of lines) {
        const shown = eventLine(s.log.name, line, width, options.minLevel);
        if (shown) print(shown);
      }
    }
  };
  const timer = setInterval(poll, options.everyMs ?? 250);
  return {
    stop() {
      clearInterval(timer);
      poll();
    },
  };
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function readRange(file: string, from: number, to: number): string {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(Math.min(to - from, 1 << 20));
    const read = readSync(fd, buffer, 0, buffer.length, Math.max(from, to - buffer.length));
    return buffer.subarray(0, read).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** A service's last log records, short, indented, for a message saying it died (its stop reason is among them). */
export function lastRecordsText(name: string, logFile: string, count = 12): string {
  const lines = tailOf(logFile, 40).split('\n').map((l) => eventLine(name, l, name.length, 'debug')).filter((l): l is string => !!l).slice(-count);
  return lines.length ? lines.map((l) => `    │${l}`).join('\n') : '    │ (no output)';
}
