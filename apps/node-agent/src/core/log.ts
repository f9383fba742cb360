import type { Logger } from '#service-kit/plain';

/** The core's leveled log: the core must not depend on Nest's, nor on one logging library. */
export interface AgentLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

/** The agent's log over the process's logger (service-kit: JSON or pretty, every message escaped). */
export function agentLog(logger: Logger): AgentLog {
  return {
    info: (m) => logger.info(m),
    warn: (m) => logger.warn(m),
    error: (m) => logger.error(m),
    debug: (m) => logger.debug(m),
  };
}

export const silentLog: AgentLog = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

export function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
