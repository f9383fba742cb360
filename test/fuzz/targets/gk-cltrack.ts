import fc from 'fast-check';
import { type AgentReply, parseAgentRequest, readRequestId } from '#contracts';
import type { AgentConnection } from '../../../apps/gk-cltrack/src/agent-transport';
import { runCltrack } from '../../../apps/gk-cltrack/src/cltrack';
import { expectThat, type FuzzTarget } from '../harness';

/**
 * gk-cltrack's whole parse path, argv and environment as nfsd's usermode helper call gives them,
 * with the agent connection replaced by one that validates every request with the agent's own
 * protocol decoder and answers with a chosen status (or fails). gk-cltrack must always end with an
 * exit status (0..255), never send the agent a request it would refuse, and print boundedly.
 */
const HEX = ['', '0', '00', 'ab', 'AB', 'abc', 'g0', '0x41', 'ab'.repeat(1024), 'ab'.repeat(1025), '4c696e7578204e465376342e30', ' ab', 'ab\n'];
const TIMES = ['0', '-1', '1700000000', '9223372036854775807', '9223372036854775808', '-9223372036854775809', '0x10', '010', '08', ' 12', '12abc', '', '+5', '1e3'];
const WORDS = ['init', 'create', 'remove', 'check', 'gracedone', 'bogus', '-d', '-f', '-h', '-s', '-sdir', '-df', '-x', '--', '-', '--debug', '--foreground', '--help',
  '--storagedir', '--storagedir=/nonexistent/gk-fuzz', '--stor', '--bogus', '--help=x', '/nonexistent/gk-fuzz'];
/** Paths the legacy-directory code may stat and rmdir: never a real directory. */
const LEGACY = ['/nonexistent/gk-fuzz/recdir', '', 'relative/nonexistent-gk-fuzz'];
const STATUSES = ['OK', 'NFS4ERR_GRACE', 'NFS4ERR_NO_GRACE', 'NFS4ERR_RECLAIM_BAD', 'NFS4ERR_DELAY', 'ERR_BAD_REQUEST', 'weird'];

/** One argv word: options, commands, hex client IDs, times, random text. */
export const cltrackArg = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...WORDS) },
  { weight: 3, arbitrary: fc.constantFrom(...HEX) },
  { weight: 2, arbitrary: fc.constantFrom(...TIMES) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b).toString('hex')) },
);
/** The environment nfsd's usermode helper call gives (each variable may be absent). */
export const cltrackEnv = fc.record({
  NFSDCLTRACK_GRACE_START: fc.constantFrom(...TIMES),
  NFSDCLTRACK_CLIENT_HAS_SESSION: fc.constantFrom('Y', 'N', 'Yes', 'y', ''),
  NFSDCLTRACK_LEGACY_RECDIR: fc.constantFrom(...LEGACY),
  NFSDCLTRACK_LEGACY_TOPDIR: fc.constantFrom(...LEGACY),
  POSIXLY_CORRECT: fc.constantFrom('1', ''),
}, { requiredKeys: [] });

export interface CltrackInput {
  argv: string[];
  env: Record<string, string>;
  /** How the agent answers: a status per request, or `unreachable` / `fails`. */
  agent: { reach: 'ok' | 'unreachable' | 'fails'; statuses: string[] };
}

export const gkCltrack: FuzzTarget<CltrackInput> = {
  name: 'gk-cltrack',
  covers: ['apps/gk-cltrack/src/', 'libs/contracts/src/'],
  interface: 'gk-cltrack argv and NFSDCLTRACK_* environment (runCltrack, getopt, c-parse), agent replies',
  arbitrary: fc.record({
    argv: fc.array(cltrackArg, { maxLength: 6 }),
    env: cltrackEnv,
    agent: fc.record({ reach: fc.constantFrom<'ok' | 'unreachable' | 'fails'>('ok', 'ok', 'ok', 'unreachable', 'fails'), statuses: fc.array(fc.constantFrom(...STATUSES), { maxLength: 3 }) }),
  }),
  async check({ argv, env: environment, agent }) {
    let printed = 0;
    let asked = 0;
    const connection: AgentConnection = {
      async request(body) {
        const id = readRequestId({ id: 1, ...body });
        const parsed = parseAgentRequest(body);
        expectThat(id.ok && parsed.ok, `gk-cltrack sends only valid requests (sent ${JSON.stringify(body).slice(0, 200)}: ${parsed.ok ? '' : parsed.error})`);
        if (agent.reach === 'fails') throw new Error('connection reset');
        return { status: agent.statuses[asked++ % Math.max(1, agent.statuses.length)] ?? 'OK' } as AgentReply;
      },
      close: () => undefined,
    };
    const code = await runCltrack(['/usr/sbin/gk-cltrack', ...argv], { ...environment, GK_AGENT_SOCKET: '/nonexistent/gk-fuzz/agent.sock' }, {
      connect: async () => {
        if (agent.reach === 'unreachable') throw new Error('ENOENT');
        return connection;
      },
      stdout: (t) => void (printed += t.length),
      stderr: (t) => void (printed += t.length),
    });
    expectThat(Number.isInteger(code) && code >= 0 && code <= 255, `an exit status 0..255 (got ${code})`);
    expectThat(printed <= 64 * 1024, `bounded output (${printed} characters)`);
  },
};
