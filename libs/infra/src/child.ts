import { ChildProcess, spawn, SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * A server we spawned, with the tail of its output kept for error messages. Output is always
 * drained: a child that fills its pipe would block, and a blocked nats-server looks like a
 * network partition.
 */
export interface Child {
  readonly process: ChildProcess;
  /** Resolves with the exit code (or the signal) once the process is gone. */
  readonly exited: Promise<number | NodeJS.Signals | null>;
  isRunning(): boolean;
  /** The last lines the process wrote to stdout and stderr. */
  output(): string;
  /** Resolves once a line of output matches; rejects if the process exits or time runs out first. */
  waitForLine(pattern: RegExp, timeoutMs: number, what: string): Promise<void>;
  /** SIGTERM, then SIGKILL if it is still there after `graceMs`; resolves when it has exited. */
  terminate(graceMs?: number): Promise<void>;
}

const TAIL_LINES = 40;

export function spawnChild(command: string, args: string[], options: SpawnOptions = {}): Child {
  const child = spawn(command, args, { ...options, stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  const watchers = new Set<(line: string) => void>();
  const keep = (line: string) => {
    if (line.trim() === '') return;
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    for (const watch of watchers) watch(line);
  };
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream, crlfDelay: Infinity }).on('line', keep);
  }

  let running = true;
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => {
    child.once('error', (err) => {
      tail.push(`spawn failed: ${err.message}`);
      running = false;
      resolve(null);
    });
    child.once('exit', (code, signal) => {
      running = false;
      resolve(code ?? signal);
    });
  });

  return {
    process: child,
    exited,
    isRunning: () => running,
    output: () => tail.join('\n'),
    waitForLine(pattern, timeoutMs, what) {
      if (tail.some((line) => pattern.test(line))) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const finish = (err?: Error) => {
          watchers.delete(watch);
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        };
        const watch = (line: string) => pattern.test(line) && finish();
        const timer = setTimeout(() => finish(new Error(`${what} not ready after ${timeoutMs} ms. Its output:\n${tail.join('\n')}`)), timeoutMs);
        watchers.add(watch);
        void exited.then((status) => finish(new Error(`${what} exited (${status}) before it was ready. Its output:\n${tail.join('\n')}`)));
      });
    },
    async terminate(graceMs = 5000) {
      if (!running) return;
      child.kill('SIGTERM');
      // A server a test paused with SIGSTOP only acts on the SIGTERM once it runs again.
      child.kill('SIGCONT');
      const timer = setTimeout(() => running && child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
