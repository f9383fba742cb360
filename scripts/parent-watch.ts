/**
 * Preloaded (`node --require`) into every service `npm start`, the demo and the benchmarks spawn:
 * their stdin is a pipe from the launcher (processes.ts), which
 * - writes `stop <reason>` on it to stop the service: the service then logs that reason with the
 *   SIGTERM it sends itself (a signal alone does not say who sent it);
 * - closes it when the launcher is gone (even by SIGKILL): the service is sent SIGTERM, with that
 *   reason, and shuts down as it would on Ctrl-C instead of living on as an orphan holding ports
 *   and sockets;
 * - and until the service's own stop handler is there, a stop signal is not silent (stop-reason.ts).
 *
 * Only in the main thread: worker threads inherit `--require`, and a worker's stdin is empty and
 * ends at once, which made the client-registry's replay worker SIGTERM its own process seconds after
 * a start that had to rebuild the read model (issue 14's "unexplained SIGTERM").
 */
import { isMainThread } from 'node:worker_threads';
import { installEarlyStopHandler, noteStopReason, STOP_REQUEST } from '../libs/service-kit/src/stop-reason';

if (isMainThread && process.env.GK_PARENT_WATCH === '1' && process.stdin && !process.stdin.isTTY) {
  installEarlyStopHandler();
  const stdin = process.stdin;
  const launcher = process.ppid;
  let buffered = '';
  let signalled = false;
  const stopBecause = (reason: string) => {
    if (signalled) return;
    signalled = true;
    noteStopReason('SIGTERM', reason);
    process.kill(process.pid, 'SIGTERM');
  };
  stdin.setEncoding('utf8');
  stdin.on('data', (chunk: string) => {
    buffered = (buffered + chunk).slice(-4096);
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    const request = lines.find((line) => line.startsWith(STOP_REQUEST));
    if (request) stopBecause(`sent by its launcher (pid ${launcher}): ${request.slice(STOP_REQUEST.length)}`);
  });
  stdin.on('end', () => stopBecause(`sent by itself: its launcher (pid ${launcher}) is gone (the pipe from it closed)`));
  stdin.on('error', (err) => stopBecause(`sent by itself: the pipe from its launcher (pid ${launcher}) failed (${err.message})`));
  stdin.resume();
  // Watching must not keep a service alive that is otherwise done.
  (stdin as unknown as { unref?: () => void }).unref?.();
}
