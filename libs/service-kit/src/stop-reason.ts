/**
 * Why this process is about to signal itself. Node does not tell a signal handler who sent the
 * signal; code of ours that sends one to its own process (the launcher watch of npm start,
 * scripts/parent-watch.ts) notes why first, and the handler (lifecycle.ts) logs it. No imports:
 * the watch is preloaded before anything else.
 */
const KEY = Symbol.for('gracekeeper.stop-reason');

/** What a launcher writes on a service's stdin to stop it: `stop <reason>\n` (scripts/parent-watch.ts). */
export const STOP_REQUEST = 'stop ';

type Holder = { [KEY]?: Partial<Record<NodeJS.Signals, string>> };

export function noteStopReason(signal: NodeJS.Signals, reason: string): void {
  const holder = globalThis as Holder;
  holder[KEY] = { ...holder[KEY], [signal]: reason };
}

/** The noted reason for `signal`, or undefined when it came from another process. */
export function takeStopReason(signal: NodeJS.Signals): string | undefined {
  const holder = globalThis as Holder;
  const reason = holder[KEY]?.[signal];
  if (reason !== undefined) delete holder[KEY]![signal];
  return reason;
}

const EARLY = Symbol.for('gracekeeper.early-stop-handler');
type EarlyHolder = { [EARLY]?: Array<[NodeJS.Signals, () => void]> };

/**
 * Loading a service's modules takes seconds on a busy machine, and until its own handler is there
 * (lifecycle.ts) a stop signal would kill it without a word (issue 14: "killed by SIGTERM, no
 * reason logged"). The launcher watch installs this first: a stop signal in that window ends the
 * process at once with one record saying why. lifecycle.ts removes it when it takes over.
 */
export function installEarlyStopHandler(signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP']): void {
  const holder = globalThis as EarlyHolder;
  if (holder[EARLY]) return;
  holder[EARLY] = signals.map((signal) => {
    const listener = () => {
      const why = takeStopReason(signal) ?? `sent by another process; parent pid ${process.ppid}`;
      const record = { level: 'info', time: new Date().toISOString(), pid: process.pid, signal, msg: `stopping while starting: ${signal} received (${why})` };
      process.stdout.write(`${JSON.stringify(record)}\n`);
      process.exit(0);
    };
    process.on(signal, listener);
    return [signal, listener];
  });
}

export function removeEarlyStopHandler(): void {
  const holder = globalThis as EarlyHolder;
  for (const [signal, listener] of holder[EARLY] ?? []) process.off(signal, listener);
  delete holder[EARLY];
}
