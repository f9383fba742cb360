/**
 * Preloaded (`node --require`) into every service `npm start`, the demo and the benchmarks spawn:
 * their stdin is a pipe from the launcher, and when it closes the launcher is gone (even by
 * SIGKILL), so the service is sent SIGTERM and shuts down as it would on Ctrl-C instead of living
 * on as an orphan holding ports and sockets.
 */
if (process.env.GK_PARENT_WATCH === '1' && process.stdin && !process.stdin.isTTY) {
  const stdin = process.stdin;
  stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
  stdin.on('error', () => process.kill(process.pid, 'SIGTERM'));
  stdin.resume();
  // Watching must not keep a service alive that is otherwise done.
  (stdin as unknown as { unref?: () => void }).unref?.();
}
