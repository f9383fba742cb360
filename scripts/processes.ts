import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { STOP_REQUEST } from '../libs/service-kit/src/stop-reason';

const PARENT_WATCH = join(__dirname, 'parent-watch.js');

export type ExitStatus = number | NodeJS.Signals | null;

export interface ManagedSpec {
  /** Shown in every message, e.g. `node-agent b`. */
  name: string;
  /** The compiled entry point (dist/apps/<app>/src/main.js). */
  main: string;
  env: Record<string, string>;
  /** Where stdout and stderr go; kept after exit for the post-mortem. */
  logFile: string;
}

/**
 * One service process: spawned with its output appended to a log file (never a pipe: a service
 * that outlives us must not die of SIGPIPE, and a full pipe would stall it), restartable, and
 * stopped with SIGTERM then SIGKILL.
 */
export class ManagedProcess {
  private child?: ChildProcess;
  private exitedPromise: Promise<ExitStatus> = Promise.resolve(null);
  private expectingExit = false;
  /** Called when the process exits without `stop()` or `kill()` having asked for it. */
  onUnexpectedExit?: (status: ExitStatus) => void;
  startedAt = 0;

  constructor(readonly spec: ManagedSpec) {}

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  isRunning(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  get exited(): Promise<ExitStatus> {
    return this.exitedPromise;
  }

  start(): void {
    if (this.isRunning()) throw new Error(`${this.name} is already running`);
    mkdirSync(dirname(this.spec.logFile), { recursive: true });
    const fd = openSync(this.spec.logFile, 'a');
    const child = spawn(process.execPath, ['--require', PARENT_WATCH, this.spec.main], {
      env: { ...process.env, ...this.spec.env, GK_PARENT_WATCH: '1' },
      // stdin is a pipe only so that the child notices when we are gone (parent-watch.ts).
      stdio: ['pipe', fd, fd],
    });
    closeSync(fd);
    // A service that died before reading a stop request: nothing to tell it any more.
    child.stdin?.on('error', () => undefined);
    this.child = child;
    this.expectingExit = false;
    this.startedAt = Date.now();
    this.exitedPromise = new Promise((resolve) => {
      child.once('error', () => resolve(null));
      child.once('exit', (code, signal) => {
        const status = code ?? signal;
        if (!this.expectingExit) this.onUnexpectedExit?.(status);
        resolve(status);
      });
    });
  }

  /** Sends a signal the caller means (a benchmark's kill -9): not reported as a crash. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.isRunning()) return;
    this.expectingExit = true;
    this.child!.kill(signal);
    await this.exitedPromise;
  }

  /**
   * Asks the service to stop, saying why (`stop <reason>` on its stdin: parent-watch.ts sends the
   * SIGTERM, and the service logs the reason with it); SIGTERM from here if it has not begun to
   * stop within 2 s, SIGKILL after `graceMs`; resolves once the process is gone.
   */
  async stop(reason = 'stop requested', graceMs = 10_000): Promise<ExitStatus> {
    if (!this.isRunning()) return this.exitedPromise;
    this.expectingExit = true;
    const child = this.child!;
    child.stdin?.write(`${STOP_REQUEST}${reason.replace(/\n/g, ' ')}\n`);
    const term = setTimeout(() => child.kill('SIGTERM'), Math.min(2000, graceMs));
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const status = await this.exitedPromise;
    clearTimeout(term);
    clearTimeout(kill);
    return status;
  }

  /** The last lines of the log file, for a message that says why it died. */
  tail(lines = 15): string {
    return tailOf(this.spec.logFile, lines);
  }
}

export function tailOf(file: string, lines = 15): string {
  if (!existsSync(file)) return '';
  const size = statSync(file).size;
  const text = readFileSync(file, 'utf8').slice(Math.max(0, size - 16_000));
  return text.split('\n').filter((l) => l.trim() !== '').slice(-lines).join('\n');
}

export function describeExit(status: ExitStatus): string {
  if (status === null) return 'could not be started';
  return typeof status === 'number' ? `exited with code ${status}` : `was killed by ${status}`;
}

/** Polls `probe` until it resolves true; rejects with `what` after `timeoutMs`. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number, everyMs = 100, abort?: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = abort?.();
    if (why) throw new Error(`${what}: ${why}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() >= deadline) throw new Error(`${what}: not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Whether `GET url` answers 2xx within `timeoutMs`. */
export async function httpOk(url: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
