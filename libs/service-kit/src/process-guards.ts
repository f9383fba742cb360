/**
 * Process-level last resort (issue 10 item 1): a promise rejection nobody handled is a bug, but
 * it must not end a process that other requests depend on, nor vanish: it is logged with the
 * service's name and the error's stack, and counted. An uncaught exception leaves the process in
 * an unknown state, so the process dies, but says why first.
 */
export interface ProcessGuards {
  /** Rejections logged since start. */
  readonly strayRejections: number;
  uninstall(): void;
}

export function installProcessGuards(name: string, write: (line: string) => void = (line) => process.stderr.write(line)): ProcessGuards {
  let strayRejections = 0;
  const onRejection = (reason: unknown) => {
    strayRejections++;
    write(`${name}: unhandled promise rejection (kept running): ${describe(reason)}\n`);
  };
  const onException = (err: Error, origin: string) => {
    write(`${name}: exiting after an uncaught exception (${origin}): ${describe(err)}\n`);
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

function describe(reason: unknown): string {
  if (reason instanceof Error) return reason.stack ?? `${reason.name}: ${reason.message}`;
  try {
    return `non-error value ${String(JSON.stringify(reason)).slice(0, 500)}`;
  } catch {
    return 'a value that cannot be shown';
  }
}
