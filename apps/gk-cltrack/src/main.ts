/**
 * Entry point of gk-cltrack (see cltrack.ts). Only node:net, node:fs and node:path are
 * loaded on this path: nfsd forks one process per upcall, so start-up time is latency.
 */
import { jsonLinesConnector } from './agent-transport';
import { runCltrack } from './cltrack';

const DEFAULT_TIMEOUT_MS = 10_000;
const timeoutMs = Number(process.env.GK_CLTRACK_TIMEOUT_MS) || DEFAULT_TIMEOUT_MS;

runCltrack([process.argv[1] ?? 'gk-cltrack', ...process.argv.slice(2)], process.env, {
  connect: jsonLinesConnector(timeoutMs),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`gk-cltrack: internal error: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(135); // -EREMOTEIO & 0xff: the record was not handled
  },
);
