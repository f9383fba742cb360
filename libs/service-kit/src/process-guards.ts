import type { Logger } from 'pino';

/**
 * Process-level last resort (issue 10 item 1): a promise rejection nobody handled is a bug, but
 * it must not end a process that other requests depend on, nor vanish: it is logged with the
 * error's stack, and counted. An uncaught exception leaves the process in an unknown state, so the
 * process dies, but says why first (a fatal record; the exit record follows, lifecycle.ts).
 */
export interface ProcessGuards {
  /** Rejections logged since start. */
  readonly strayRejections: number;
  uninstall(): void;
}

export function installProcessGuards(logger: Logger): ProcessGuards {
  let strayRejections = 0;
  const onRejection = (reason: unknown) => {
    strayRejections++;
    logger.error(errorFields(reason), 'unhandled promise rejection (kept running)');
  };
  const onException = (err: Error, origin: string) => {
    logger.fatal({ ...errorFields(err), origin }, `exiting after an uncaught exception (${origin})`);
    process.exit(70); // EX_SOFTWARE
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    get strayRejections() {
      return strayRejections;
    },
    uninstall() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

function errorFields(reason: unknown): Record<string, unknown> {
  if (reason instanceof Error) return { err: reason };
  try {
    return { value: `non-error value ${String(JSON.stringify(reason)).slice(0, 500)}` };
  } catch {
    return { value: 'a value that cannot be shown' };
  }
}
