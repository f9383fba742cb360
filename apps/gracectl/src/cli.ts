import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { isValidToken, streamNames } from '#contracts';
import type { OpenedStore } from '#cluster-store';
import { StreamMissing } from '#event-store';
import { OptionSpec, parseArgs, UsageError } from './args';
import { CommandContext, CommandSpec, Failure } from './command';
import { auditCommand } from './commands/audit';
import { configureCommand } from './commands/configure';
import { dumpCommand } from './commands/dump';
import { initCommand } from './commands/init';
import { addCommand, moveCommand, nodeCommands } from './commands/grace-ops';
import { replayCommand } from './commands/replay';
import { retentionCommand } from './commands/retention';
import { statusCommand } from './commands/status';

/**
 * Every gracectl subcommand. Adding one = one import above and one entry here (see
 * `CommandSpec` in command.ts and docs/gracectl.md).
 */
export const COMMANDS: CommandSpec[] = [
  dumpCommand,
  initCommand,
  addCommand,
  ...nodeCommands,
  moveCommand,
  statusCommand,
  configureCommand,
  auditCommand,
  replayCommand,
  retentionCommand,
];

export const GLOBAL_OPTIONS: OptionSpec[] = [
  { name: 'cluster', value: true, valueName: 'ID', description: 'cluster id (default: $GK_CLUSTER, else "default")' },
  { name: 'nats', value: true, valueName: 'URL', description: 'NATS server(s), comma-separated (default: $NATS_URL, else nats://127.0.0.1:4222)' },
  { name: 'prefix', value: true, valueName: 'P', description: 'subject prefix of the deployment (default: $GK_PREFIX, else "gk")' },
  { name: 'help', value: false, description: 'show this help' },
];

export interface GracectlIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Opens the store; injectable so unit tests can run without NATS. */
  open(natsUrl: string, ctx: Pick<CommandContext, 'names' | 'actor'> & { createStream: boolean }): Promise<OpenedStore>;
}

const USAGE_LINE = 'Usage: gracectl [--cluster ID] [--nats URL] [--prefix P] <command> [nodeid...]';

export function usageText(commands: CommandSpec[] = COMMANDS): string {
  const lines = [
    USAGE_LINE,
    '',
    'Commands:',
    ...commands.map((c) => `  ${(c.name + ' ' + c.synopsis).trim()}\n      ${c.summary}`),
    '',
    'Options:',
    ...[...GLOBAL_OPTIONS, ...uniqueOptions(commands)].map((o) => `  --${o.name}${o.value ? ` ${o.valueName ?? 'VALUE'}` : ''}\n      ${o.description}`),
    '',
    'Nothing is printed on success; a failure prints "Failure: <reason>" and exits 1; a usage error exits 2.',
  ];
  return lines.join('\n') + '\n';
}

/** Runs one gracectl invocation and returns its exit status. Never throws. */
export async function runGracectl(argv: readonly string[], env: Record<string, string | undefined>, io: GracectlIo): Promise<number> {
  let opened: Promise<OpenedStore> | undefined;
  try {
    const parsed = parseArgs(argv, [...GLOBAL_OPTIONS, ...uniqueOptions(COMMANDS)]);
    if (parsed.options.has('help')) {
      io.stdout(usageText());
      return 0;
    }
    // Like ganesha-rados-grace, no command at all means `dump`.
    const [name = 'dump', ...operands] = parsed.operands;
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    const allowed = new Set([...GLOBAL_OPTIONS, ...(command.options ?? [])].map((o) => o.name));
    for (const option of parsed.options.keys()) {
      if (!allowed.has(option)) throw new UsageError(`option --${option} does not apply to ${command.name}`);
    }
    const get = (option: string, variable: string, fallback: string) => {
      const value = parsed.options.get(option);
      return typeof value === 'string' ? value : env[variable] || fallback;
    };
    const natsUrl = get('nats', 'NATS_URL', 'nats://127.0.0.1:4222');
    const cluster = get('cluster', 'GK_CLUSTER', 'default');
    const prefix = get('prefix', 'GK_PREFIX', 'gk');
    if (!isValidToken(cluster)) throw new UsageError(`invalid cluster id ${JSON.stringify(cluster)}: use 1-128 letters, digits, _ and -`);
    if (!isValidToken(prefix)) throw new UsageError(`invalid prefix ${JSON.stringify(prefix)}: use 1-128 letters, digits, _ and -`);
    const names = streamNames(prefix);
    const actor = `gracectl:${currentUser(env)}`;
    const ctx: CommandContext = {
      natsUrl, cluster, prefix, names, actor, env,
      causation: `gracectl:${randomUUID()}`,
      stdout: io.stdout,
      stderr: io.stderr,
      opened: () => (opened ??= io.open(natsUrl, { names, actor, createStream: command.createsStream ?? false }).catch((err: unknown) => {
        if (err instanceof StreamMissing) throw new Failure(err.message);
        throw new Failure(`cannot reach NATS at ${natsUrl}: ${(err as Error).message}`);
      })),
      store: async () => (await ctx.opened()).store,
    };
    if (command.noOperands && operands.length > 0) throw new UsageError(`${command.name} takes no node ids (got ${operands.join(' ')})`);
    await command.run(ctx, parsed, operands);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`gracectl: ${err.message}\n${USAGE_LINE}\nTry 'gracectl --help' for the commands and options.\n`);
      return 2;
    }
    if (err instanceof Failure) {
      io.stderr(`${err.preamble ? err.preamble + '\n' : ''}Failure: ${err.message}\n`);
      return 1;
    }
    io.stderr(`Failure: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    if (opened) await opened.then((o) => o.close(), () => undefined);
  }
}

function uniqueOptions(commands: CommandSpec[]): OptionSpec[] {
  const seen = new Map<string, OptionSpec>();
  for (const c of commands) for (const o of c.options ?? []) if (!seen.has(o.name)) seen.set(o.name, o);
  return [...seen.values()];
}

function currentUser(env: Record<string, string | undefined>): string {
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    name = env.USER || env.LOGNAME;
  }
  // The actor is a bounded string in every event; keep it printable.
  return (name || 'unknown').replace(/[^\w.@-]/g, '_').slice(0, 64);
}
