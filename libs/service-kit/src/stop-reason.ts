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
