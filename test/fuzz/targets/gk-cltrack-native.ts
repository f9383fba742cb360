import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { jsonLinesConnector } from '../../../apps/gk-cltrack/src/agent-transport';
import { DEFAULT_AGENT_SOCKET, runCltrack } from '../../../apps/gk-cltrack/src/cltrack';
import { FakeAgent, type FakeResponse, requireNativeCltrack, runNativeCltrack } from '#testing';
import { expectThat, type FuzzTarget } from '../harness';
import { cltrackArg, cltrackEnv } from './gk-cltrack';

/**
 * The compiled gk-cltrack (native/gk-cltrack) against the Node one (apps/gk-cltrack), differential:
 * random argv and NFSDCLTRACK_* environment, a real agent socket that answers each request with a
 * scripted raw line (valid replies, replies for another id, odd but valid JSON, garbage, a hang-up,
 * silence), and legacy recovery directories that really exist. Both must exit with the same code,
 * send the agent the same requests, print the same usage and getopt messages, and leave the
 * legacy directories in the same state.
 */
const ARGV0 = '/usr/sbin/gk-cltrack';
/** Short, so that a silent agent costs little (both programs get the same limit), but far above a reply's time under load. */
const TIMEOUT_MS = 300;

/** A reply line for request `id`; 'close' hangs up. Waiting out the time limit: see SLOW_REPLIES. */
const REPLIES = [
  '{"id":{id},"status":"OK"}',
  '{"status":"OK","id":{id},"ended":true,"epoch":2}',
  '{"id":{id},"status":"NFS4ERR_RECLAIM_BAD"}',
  '{"id":{id},"status":"NFS4ERR_DELAY","fenced":true}',
  '{"id":{id},"status":"ERR_BAD_REQUEST","error":"no"}',
  '{"id":{id}.0,"status":"O\\u004b"}',
  '{"id":{id}e0,"status":"OK","nested":[{"a":[1,2,{"b":null}]},"x\\n",-1.5e-3,true,false]}',
  '{"id":{id},"status":"OK","status":"NFS4ERR_GRACE"}',
  '{"id":{id},"status":"NFS4ERR_GRACE","status":"OK"}',
  ' \t{"id":{id},"status":"OK"}\r',
  '\n{"id":{id},"status":"OK"}',
  '{"id":null,"status":"ERR_BAD_REQUEST"}\n{"id":{id},"status":"OK"}',
  '{"id":{id},"status":1}',
  '{"id":{id},"status":"OK"}\nnot json',
  '{"id":{id},"status":"OK",}',
  '[{"id":{id},"status":"OK"}]',
  '{"id":{id},"status":"OK"} x',
  '{"id":{id},"status":"OK\u0001"}',
  '{"id":{id},"status":"\u00e9"}',
  `{"id":{id},"status":"OK","deep":${'[{"a":'.repeat(2000)}null${'}]'.repeat(2000)}}`,
  `{"id":{id},"status":"OK","deep":${'['.repeat(3000)}${']'.repeat(2999)}}`,
  'this is not json',
  'close',
];
/** No answer for this request: never, or only for another id. */
const SLOW_REPLIES = ['silence', '{"id":"{id}","status":"OK"}'];
/** One of `xs`, each as likely (fc.constantFrom favours the first ones). */
const anyOf = <T>(xs: readonly T[]) => fc.noBias(fc.constantFrom(...xs));
const reply = fc.oneof({ weight: 30, arbitrary: anyOf(REPLIES) }, { weight: 1, arbitrary: anyOf(SLOW_REPLIES) });

/** An invocation shaped like nfsd's (options, a command, its argument, maybe more), so that every command's checks are reached often. */
const OPTIONS = ['-d', '-f', '-df', '-h', '-x', '-s', '{dir}', '--debug', '--foreground', '--fore', '--help', '--bogus', '--storagedir', '--', '-'];
const COMMANDS = ['init', 'create', 'remove', 'check', 'gracedone', 'CHECK', 'list', ''];
const ARGUMENTS = ['', '0', '00', 'ab', 'AB', 'aBc', 'g0', '0x41', ' ab', '4c696e7578', 'ab'.repeat(1023), 'ab'.repeat(1024), 'ab'.repeat(1025), `${'ab'.repeat(1024)}z`,
  `zz${'ab'.repeat(1024)}`, '0'.repeat(2049), '1700000000', '-1', '0x10', '010', '08', ' 12', '12 ', '12abc', '+5', '9223372036854775807', '9223372036854775808', '-9223372036854775809', 'é0'];
/** A client ID as the kernel writes it (lowercase hex), sometimes in upper case. */
const clientId = fc.tuple(fc.uint8Array({ maxLength: 24 }), fc.boolean()).map(([b, upper]) => (upper ? Buffer.from(b).toString('hex').toUpperCase() : Buffer.from(b).toString('hex')));
const argument = fc.oneof({ weight: 2, arbitrary: clientId }, { weight: 2, arbitrary: anyOf(ARGUMENTS) });
const invocation = fc
  .tuple(fc.array(anyOf(OPTIONS), { maxLength: 2 }), anyOf(COMMANDS), fc.array(argument, { minLength: 1, maxLength: 2 }), fc.array(anyOf(OPTIONS), { maxLength: 1 }))
  .map(([options, command, args, after]) => [...options, command, ...args, ...after]);

const LEGACY = ['{recdir}', '{topdir}', '/nonexistent/gk-fuzz/recdir', ''];
/** '' makes both look at -s or the default socket: only when nothing listens there. */
const SOCKETS = ['{socket}', '{socket}', '/nonexistent/gk-fuzz/agent.sock', ...(existsSync(DEFAULT_AGENT_SOCKET) ? [] : [''])];
const DIR_WORDS = ['{dir}', '-s{dir}', '--storagedir={dir}', '--stor={dir}/', '{dir}/../' + 'x'.repeat(3) + '/..', '/nonexistent/gk-fuzz'];

export interface NativeCltrackInput {
  argv: string[];
  env: Record<string, string>;
  replies: string[];
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  requests: unknown[];
  recdirLeft: boolean;
  topdirEntriesLeft: number;
}

let scratch: string | undefined;
let agent: FakeAgent | undefined;
const where = () => ({ dir: agent!.dir, socket: agent!.socketPath, recdir: join(scratch!, 'recdir'), topdir: join(scratch!, 'topdir') });

const fill = (text: string) => {
  const w = where();
  return text.replaceAll('{dir}', w.dir).replaceAll('{socket}', w.socket).replaceAll('{recdir}', w.recdir).replaceAll('{topdir}', w.topdir);
};

/** The legacy directories as nfsd would leave them: the client's directory, and two in the top directory. */
function prepareLegacy(): void {
  const w = where();
  rmSync(w.topdir, { recursive: true, force: true });
  mkdirSync(w.recdir, { recursive: true });
  mkdirSync(join(w.topdir, 'a'), { recursive: true });
  mkdirSync(join(w.topdir, 'b'));
}

async function outcome(run: () => Promise<{ code: number; stdout: string; stderr: string }>): Promise<Outcome> {
  prepareLegacy();
  const r = await run();
  const w = where();
  const left = ['a', 'b'].filter((d) => existsSync(join(w.topdir, d))).length;
  return { ...r, requests: agent!.requests.splice(0), recdirLeft: existsSync(w.recdir), topdirEntriesLeft: left };
}

function runNode(argv: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  return runCltrack([ARGV0, ...argv], env, {
    connect: jsonLinesConnector(TIMEOUT_MS),
    stdout: (t) => void (out.stdout += t),
    stderr: (t) => void (out.stderr += t),
  }).then((code) => ({ code, ...out }));
}

function runNative(argv: string[], env: Record<string, string>) {
  return runNativeCltrack(argv, { ...env, GK_CLTRACK_TIMEOUT_MS: String(TIMEOUT_MS) }, ARGV0);
}

/** Without -f nothing is logged; with it the wording of failures may differ, getopt's messages may not. */
const comparable = (o: Outcome, foreground: boolean) => ({ ...o, stderr: foreground && o.code !== 1 ? '(log)' : o.stderr });

export const gkCltrackNative: FuzzTarget<NativeCltrackInput> = {
  name: 'gk-cltrack-native',
  interface: 'the compiled gk-cltrack (native/gk-cltrack) beside the Node one: argv, NFSDCLTRACK_* environment, raw agent reply lines',
  // Two runs and a process per input (~30 ms): npm test runs 200, npm run fuzz 100,000.
  runShare: 0.1,
  arbitrary: fc.record({
    argv: fc.oneof(
      { weight: 3, arbitrary: invocation },
      { weight: 1, arbitrary: fc.array(fc.oneof({ weight: 6, arbitrary: cltrackArg }, { weight: 1, arbitrary: fc.constantFrom(...DIR_WORDS) }, { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) }), { maxLength: 6 }) },
    ),
    env: fc.record({
      base: cltrackEnv,
      GK_AGENT_SOCKET: anyOf(SOCKETS),
      NFSDCLTRACK_LEGACY_RECDIR: anyOf(LEGACY),
      NFSDCLTRACK_LEGACY_TOPDIR: anyOf(LEGACY),
    }, { requiredKeys: ['base', 'GK_AGENT_SOCKET'] }).map(({ base, ...rest }) => ({ ...base, ...rest }) as Record<string, string>),
    replies: fc.array(reply, { maxLength: 3 }),
  }),
  async warmUp() {
    requireNativeCltrack();
    scratch = mkdtempSync(join(tmpdir(), 'gk-fuzz-native-'));
    agent = await FakeAgent.start();
  },
  async tearDown() {
    await agent?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  },
  async check(input) {
    const argv = input.argv.map(fill);
    const env = Object.fromEntries(Object.entries(input.env).map(([k, v]) => [k, fill(v)]));
    // Request n of a run is answered with replies[n % length] (all OK when there are none).
    const script = input.replies.length ? input.replies : ['{"id":{id},"status":"OK"}'];
    agent!.respond = (req): FakeResponse => {
      const line = script[(agent!.requests.length - 1) % script.length]!;
      return line === 'close' || line === 'silence' ? line : { raw: line.replaceAll('{id}', String(req.id)) };
    };
    const node = await outcome(() => runNode(argv, env));
    const native = await outcome(() => runNative(argv, env));
    const foreground = argv.some((a) => /^-[a-z]*f/.test(a) || a === '--foreground' || a.startsWith('--fo'));
    const [a, b] = [comparable(node, foreground), comparable(native, foreground)];
    expectThat(isDeepStrictEqual(a, b), `the same outcome from both:\nnode:   ${JSON.stringify(a).slice(0, 3000)}\nnative: ${JSON.stringify(b).slice(0, 3000)}`);
  },
};
