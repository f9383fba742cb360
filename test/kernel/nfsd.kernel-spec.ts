/**
 * Linux nfsd and a real NFSv4.1 client against the node-agent, in one qemu guest (vm.ts): every
 * scenario in guest/scenarios runs in that boot and reports by console markers; here each
 * scenario is one test. GK_KERNEL_SCENARIOS=a,b picks some; GK_KERNEL_VERBOSE=1 echoes the console.
 */
import { bootGuest, findKernel, type GuestRun, scenarioResults } from './vm';

// a: cld on every start; b: reclaim; c: gk-cltrack as the usermode helper; d: RFC 7530 edge
// condition 2; e: two nfsd in two network namespaces as two members of one cluster.
const ALL = ['cld-every-start', 'reclaim', 'cltrack', 'edge2', 'two-nfsd'];
const chosen = process.env.GK_KERNEL_SCENARIOS?.split(',').filter(Boolean) ?? ALL;
const BOOT_TIMEOUT_MS = Number(process.env.GK_KERNEL_TIMEOUT_MS ?? 2_400_000);
jest.setTimeout(BOOT_TIMEOUT_MS + 30_000);

let run: GuestRun;
let results: ReturnType<typeof scenarioResults>;

beforeAll(async () => {
  const verbose = process.env.GK_KERNEL_VERBOSE === '1';
  run = await bootGuest({
    scenarios: chosen,
    timeoutMs: BOOT_TIMEOUT_MS,
    onLine: (line) => {
      if (verbose || /^GK-(BEGIN|END|KERNEL|NOTE|BOOT)/.test(line)) process.stderr.write(`[guest] ${line}\n`);
    },
  });
  results = scenarioResults(run.lines);
  process.stderr.write(`[kernel] ${findKernel().version}: guest ran ${Math.round(run.ms / 1000)} s${run.timedOut ? ' (timed out)' : ''}\n`);
});

const tail = (lines: string[], n = 120) => lines.slice(-n).join('\n');

it('the guest boots, runs every scenario and powers off', () => {
  const bootProblems = run.lines.filter((l) => l.includes('GK-BOOT-FAILED'));
  expect({ timedOut: run.timedOut, bootProblems, done: run.lines.some((l) => l.includes('GK-DONE')) })
    .toEqual({ timedOut: false, bootProblems: [], done: true });
});

describe.each(chosen)('%s', (name) => {
  it('passes every check in the guest', () => {
    const result = results.get(name);
    if (!result) throw new Error(`scenario ${name} did not run; console tail:\n${tail(run.lines)}`);
    const failed = result.lines.filter((l) => l.includes('FAILED'));
    if (!result.passed) throw new Error(`scenario ${name} failed:\n${failed.join('\n')}\n--- its console:\n${tail(result.lines, 200)}`);
    expect(failed).toEqual([]);
  });
});
