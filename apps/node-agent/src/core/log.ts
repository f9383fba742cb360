import { escapeControlChars } from '#service-kit/plain';

/** A minimal leveled logger on stderr: the core must not depend on Nest's. */
export interface AgentLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

export function stderrLog(prefix: string, debug = process.env.GK_DEBUG === '1'): AgentLog {
  // Messages carry client ids and request text from outside: one message is always one line.
  const line = (level: string, message: string) => process.stderr.write(`${new Date().toISOString()} ${level} [${prefix}] ${escapeControlChars(message)}\n`);
  return {
    info: (m) => line('INFO', m),
    warn: (m) => line('WARN', m),
    error: (m) => line('ERROR', m),
    debug: (m) => debug && line('DEBUG', m),
  };
}

export const silentLog: AgentLog = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

export function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
