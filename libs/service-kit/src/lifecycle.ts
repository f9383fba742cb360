import type { Logger } from 'pino';
import { removeEarlyStopHandler, takeStopReason } from './stop-reason';

/** What stops a service politely: `docker stop`, `systemctl stop`, Kubernetes, Ctrl-C, a closed terminal. */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

export interface StopHandling {
  /** Whether a stop signal arrived. */
  readonly stopping: boolean;
  uninstall(): void;
}

export interface StopOptions {
  /** How long `stop` may take before the process exits anyway (code 1); default 10 s. */
  graceMs?: number;
  exit?: (code: number) => void;
}

/**
 * Every stop says why: a stop signal is logged with its sender when known (our own code notes it,
 * stop-reason.ts; Node does not tell otherwise), then `stop` runs (closing the app) and the process
 * exits 0; a second signal, a failing or hanging `stop` exit at once, logged. Whatever ends the
 * process (these, a configuration error, an uncaught exception) leaves a last record with the exit
 * code. Installed before anything else, so a signal during start-up is explained too.
 */
export function handleStopSignals(logger: Logger, stop: () => Promise<void>, options: StopOptions = {}): StopHandling {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const graceMs = options.graceMs ?? 10_000;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, `${signal} again while stopping: exiting now`);
      exit(130);
      return;
    }
    stopping = true;
    const sender = takeStopReason(signal);
    logger.info({ signal, sender: sender ?? 'another process' }, `stopping: ${signal} received (${sender ?? `sent by another process; Node does not tell which; parent pid ${process.ppid}`})`);
    const timer = setTimeout(() => {
      logger.error(`did not stop within ${graceMs} ms: exiting`);
      exit(1);
    }, graceMs);
    timer.unref();
    stop().then(
      () => {
        clearTimeout(timer);
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(timer);
        logger.error({ err }, 'stopping failed');
        exit(1);
      },
    );
  };
  const onExit = (code: number) => {
    const record = { exitCode: code };
    if (code === 0) logger.info(record, stopping ? 'stopped (exit code 0)' : 'exiting (exit code 0)');
    else logger.error(record, `exiting with code ${code}`);
  };
  const listeners = STOP_SIGNALS.map((signal) => [signal, () => onSignal(signal)] as const);
  for (const [signal, listener] of listeners) process.on(signal, listener);
  removeEarlyStopHandler();
  process.on('exit', onExit);
  return {
    get stopping() {
      return stopping;
    },
    uninstall() {
      for (const [signal, listener] of listeners) process.off(signal, listener);
      process.off('exit', onExit);
    },
  };
}
