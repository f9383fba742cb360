/**
 * Entry point of gracectl, the operator's tool (counterpart of ganesha-rados-grace). No Nest on
 * this path: it connects to NATS, decides with the shared rules, appends, and exits.
 */
import { openGraceStore } from '#cluster-store';
import { runGracectl } from './cli';

const timeoutMs = Number(process.env.GK_GRACECTL_TIMEOUT_MS) || 30_000;

// A command that cannot finish (NATS gone mid-way) must not hang a script for ever. The decision
// may or may not have been stored: say so. `replay` and `audit` read whole streams and show
// their progress; they are exempt (a node id spelled like them only loses the watchdog).
const longRunning = process.argv.slice(2).some((arg) => arg === 'replay' || arg === 'audit');
if (!longRunning) {
  const watchdog = setTimeout(() => {
    process.stderr.write(`Failure: no answer within ${timeoutMs} ms (the change may or may not have been applied; check with gracectl dump)\n`);
    process.exit(1);
  }, timeoutMs);
  watchdog.unref();
}

runGracectl(process.argv.slice(2), process.env, {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  // Without createStream, GK_CREATE_STREAM=1 or development mode still allow it (openGraceStore).
  open: (natsUrl, { names, actor, createStream }) => openGraceStore({ natsUrl, names, name: actor, reconnect: true, timeoutMs: 5000, ...(createStream ? { provision: true } : {}) }),
}).then(
  (code) => exit(code),
  (err: unknown) => {
    process.stderr.write(`Failure: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    exit(1);
  },
);

/** Exits once stdout and stderr have flushed (a piped dump must not be cut short). */
function exit(code: number): void {
  let pending = 2;
  const done = () => { if (--pending === 0) process.exit(code); };
  process.stdout.write('', done);
  process.stderr.write('', done);
}
