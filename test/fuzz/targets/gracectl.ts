import fc from 'fast-check';
import { COMMANDS, GLOBAL_OPTIONS, runGracectl } from '../../../apps/gracectl/src/cli';
import { expectThat, type FuzzTarget } from '../harness';

/**
 * gracectl's argv, parsed and validated by every command up to the point where it needs NATS:
 * the store cannot be opened here (`open` fails), so a command that got that far fails with exit 1.
 * gracectl must end with 0, 1 or 2 and print boundedly; it must never throw. A PostgreSQL URL is
 * always one that refuses at once, so no database is touched.
 */
const UNREACHABLE_DB = 'postgres://127.0.0.1:1/gk-fuzz-none';
const OPTIONS = [...GLOBAL_OPTIONS, ...COMMANDS.flatMap((c) => c.options ?? [])].map((o) => `--${o.name}`);
const WORDS = [...COMMANDS.map((c) => c.name), ...OPTIONS, '-h', '--', '-', '--bogus', '--cluster=', '--json=1', '-x', 'a', 'b', 'node-1', 'a:b.c_d-e', '-a', ''];
const VALUES = ['1', '0', '0.5', '1e3', '90', '2147484', 'abandon', 'wait', 'all-clear', 'first-exit', 'ab', 'abc', 'ABCD', 'x'.repeat(200), 'c1', 'a/b', 'nats://127.0.0.1:1', '-1', '10000', ' '];

const arg = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...WORDS) },
  { weight: 3, arbitrary: fc.constantFrom(...VALUES) },
  { weight: 1, arbitrary: fc.constantFrom(...OPTIONS).chain((o) => fc.constantFrom(...VALUES).map((v) => `${o}=${v}`)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
);

export const gracectl: FuzzTarget<{ argv: string[]; env: Record<string, string> }> = {
  name: 'gracectl',
  covers: ['apps/gracectl/src/'],
  interface: 'gracectl argv and environment (parseArgs, every command\'s option and operand checks)',
  arbitrary: fc.record({
    argv: fc.array(arg, { maxLength: 7 }),
    env: fc.record({ GK_CLUSTER: fc.constantFrom('c1', '', 'bad/id', 'x'.repeat(129)), GK_PREFIX: fc.constantFrom('gk', '', 'a.b'), USER: fc.constantFrom('root', '', 'a b\u0000c') }, { requiredKeys: [] }),
  }),
  async warmUp() {
    await this.check({ argv: ['audit', '--node', 'a', '--database-url', UNREACHABLE_DB], env: {} });
  },
  async check({ argv, env }) {
    let printed = 0;
    const safe = argv.map((a, i) => (argv[i - 1] === '--database-url' || a.startsWith('--database-url=') ? (a.startsWith('--') ? `--database-url=${UNREACHABLE_DB}` : UNREACHABLE_DB) : a));
    const code = await runGracectl(safe, { ...env, NATS_URL: 'nats://127.0.0.1:1' }, {
      stdout: (t) => void (printed += t.length),
      stderr: (t) => void (printed += t.length),
      open: async () => {
        throw new Error('no NATS in the fuzzer');
      },
    });
    expectThat(code === 0 || code === 1 || code === 2, `exit status 0, 1 or 2 (got ${code})`);
    expectThat(printed <= 64 * 1024, `bounded output (${printed} characters)`);
  },
};
