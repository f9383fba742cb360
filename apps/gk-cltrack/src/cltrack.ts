/**
 * gk-cltrack: a drop-in for nfs-utils' nfsdcltrack (the program nfsd runs for client tracking
 * when no nfsdcld is running) that keeps its records in the node-agent instead of SQLite.
 * Argument handling, the order of checks and the exit codes follow nfsdcltrack.c; see
 * docs/nfsdcltrack-semantics.md for the table measured against the real binary.
 * Kept free of framework imports: the kernel starts one process per upcall.
 */
import { rmdirSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { AgentReply } from '#contracts';
import type { AgentConnection, AgentConnector } from './agent-transport';
import { EINVAL, hexToClientId, LONG_MAX, strtol0 } from './c-parse';
import { getoptLong, type LongOption } from './getopt';

const EPERM = 1;
const EACCES = 13;
const ENOSYS = 38;
const EREMOTEIO = 121;

export const DEFAULT_AGENT_SOCKET = '/run/gracekeeper/agent.sock';

export type CltrackEnv = Readonly<Record<string, string | undefined>>;

export interface CltrackDeps {
  connect: AgentConnector;
  stdout(text: string): void;
  stderr(text: string): void;
}

const LONGOPTS: readonly LongOption[] = [
  { name: 'help', hasArg: false, val: 'h' },
  { name: 'debug', hasArg: false, val: 'd' },
  { name: 'foreground', hasArg: false, val: 'f' },
  { name: 'storagedir', hasArg: true, val: 's' },
];

const COMMANDS = ['init', 'create', 'remove', 'check', 'gracedone'] as const;
type Command = (typeof COMMANDS)[number];

/** Runs one invocation; argv[0] is the program path as exec'd. Resolves to the exit status. */
export async function runCltrack(argv: readonly string[], env: CltrackEnv, deps: CltrackDeps): Promise<number> {
  const argv0 = argv[0] ?? 'gk-cltrack';
  const progname = basename(argv0);
  const log = { foreground: false, debug: false };
  let storagedir: string | undefined;

  const parsed = getoptLong(argv0, argv.slice(1), 'hdfs:', LONGOPTS, env.POSIXLY_CORRECT !== undefined);
  for (const item of parsed.items) {
    if (item.opt === 'd') log.debug = true;
    else if (item.opt === 'f') log.foreground = true;
    else if (item.opt === 's') storagedir = item.arg;
    else {
      if ('message' in item) deps.stderr(item.message);
      deps.stdout(usage(progname));
      return 1;
    }
  }
  // nfsdcltrack logs to syslog unless -f; we have no syslog client, so without -f we stay quiet.
  const error = (msg: string) => log.foreground && deps.stderr(`${progname}: ${msg}\n`);
  const debug = (msg: string) => log.debug && error(msg);

  const [cmdName, cmdArg] = parsed.operands;
  if (cmdName === undefined) {
    error('Missing command name');
    return status(-EINVAL);
  }
  const cmd = COMMANDS.find((c) => c === cmdName);
  if (!cmd) {
    // A distinct error lets a newer kernel detect an older helper.
    error(`find_cmd: '${cmdName}' doesn't match any known command`);
    return status(-ENOSYS);
  }
  if (cmd !== 'init' && cmdArg === undefined) {
    error(`Command ${cmd} requires an argument`);
    return status(-EINVAL);
  }

  const socketPath = env.GK_AGENT_SOCKET || (storagedir !== undefined ? join(storagedir, 'agent.sock') : DEFAULT_AGENT_SOCKET);
  const ctx: Context = { env, deps, socketPath, error, debug };
  let conn: AgentConnection | undefined;
  try {
    // Like nfsdcltrack's sqlite_prepare_dbh(), reaching the store comes before looking at the argument.
    conn = await deps.connect(socketPath).catch((e: Error) => {
      error(`unable to reach the node-agent at ${socketPath}: ${e.message}`);
      return undefined;
    });
    if (!conn) return status(cmd === 'init' ? -EACCES : -EREMOTEIO);
    return status(await COMMAND_FUNCS[cmd](ctx, conn, cmdArg ?? ''));
  } finally {
    conn?.close();
  }
}

interface Context {
  env: CltrackEnv;
  deps: CltrackDeps;
  socketPath: string;
  error(msg: string): void;
  debug(msg: string): void;
}

type CommandFunc = (ctx: Context, conn: AgentConnection, arg: string) => Promise<number>;

const COMMAND_FUNCS: Record<Command, CommandFunc> = {
  /**
   * nfsd started: with its boot time the agent starts or joins grace for this node (a repeated
   * init with the same boot time is the same boot and changes nothing, as in nfsdcltrack);
   * without one nfsdcltrack only opens its store, so the agent is only asked whether it is there.
   * liftIfDone: nfsdcltrack ends grace at once when no record is left to reclaim.
   * nfsdcltrack turns every init failure into -EACCES so that the kernel stops upcalling.
   */
  async init(ctx, conn) {
    const graceStart = graceStartFromEnv(ctx.env);
    const body = graceStart === undefined ? { op: 'hello' } : { op: 'grace_start', graceStart, liftIfDone: true };
    const reply = await ask(ctx, conn, body);
    return reply?.status === 'OK' ? 0 : -EACCES;
  },

  async create(ctx, conn, hex) {
    const id = hexToClientId(hex);
    if (!id.ok) return -id.errno;
    const v41 = hasSession(ctx.env);
    // nfsdcltrack re-runs its end-of-grace test after a v4.1 create (RECLAIM_COMPLETE), given a boot time.
    const lift = v41 && graceStartFromEnv(ctx.env) !== undefined ? { liftIfDone: true } : {};
    const reply = await ask(ctx, conn, { op: 'create', client: id.id.toString('hex'), hasSession: v41, ...lift });
    return reply?.status === 'OK' ? 0 : -EREMOTEIO;
  },

  /** Removing a client the agent does not know is a success, as a DELETE of no rows is. */
  async remove(ctx, conn, hex) {
    const id = hexToClientId(hex);
    if (!id.ok) return -id.errno;
    const reply = await ask(ctx, conn, { op: 'remove', client: id.id.toString('hex') });
    return reply?.status === 'OK' ? 0 : -EREMOTEIO;
  },

  /**
   * Any answer but OK, after the legacy fallback, is -EPERM: the client may not reclaim. A v4.0
   * client's check during grace is its reclaim (nfsdcltrack refreshes its record), a v4.1
   * client's is not (its create at RECLAIM_COMPLETE is).
   */
  async check(ctx, conn, hex) {
    const id = hexToClientId(hex);
    if (!id.ok) return -id.errno;
    const client = id.id.toString('hex');
    const v41 = hasSession(ctx.env);
    const reply = await ask(ctx, conn, { op: 'check', client, hasSession: v41, ...(v41 ? {} : { reclaim: true }) });
    if (reply === undefined) return -EREMOTEIO;
    if (reply.status === 'OK') return 0;
    return (await importLegacyRecord(ctx, conn, client)) ? 0 : -EPERM;
  },

  async gracedone(ctx, conn, timestr) {
    const t = strtol0(timestr);
    if (t.errno) return -t.errno;
    if (t.trailing) return -EINVAL;
    ctx.debug(`grace done. gracetime=${t.value}`);
    const reply = await ask(ctx, conn, { op: 'grace_done', wait: false });
    clearLegacyTopdir(ctx);
    return reply?.status === 'OK' ? 0 : -EREMOTEIO;
  },
};

/** One request; undefined when the agent could not answer (already logged). */
async function ask(ctx: Context, conn: AgentConnection, body: Record<string, unknown>): Promise<AgentReply | undefined> {
  try {
    const reply = await conn.request(body);
    ctx.debug(`${String(body.op)}: agent answered ${reply.status}`);
    if (reply.status !== 'OK') ctx.error(`${String(body.op)}: agent answered ${reply.status}${typeof reply.error === 'string' ? `: ${reply.error}` : ''}`);
    return reply;
  } catch (e) {
    ctx.error(`${String(body.op)}: no answer from the node-agent at ${ctx.socketPath}: ${(e as Error).message}`);
    return undefined;
  }
}

/** NFSDCLTRACK_CLIENT_HAS_SESSION: set and starting with 'Y' means a v4.1+ client. */
function hasSession(env: CltrackEnv): boolean {
  return env.NFSDCLTRACK_CLIENT_HAS_SESSION?.startsWith('Y') ?? false;
}

/** NFSDCLTRACK_GRACE_START as nfsdcltrack reads it: strtol, where overflow (or LONG_MAX) means "not given". */
function graceStartFromEnv(env: CltrackEnv): number | undefined {
  const raw = env.NFSDCLTRACK_GRACE_START;
  if (raw === undefined) return undefined;
  const t = strtol0(raw);
  if (t.errno || t.value === LONG_MAX) return undefined;
  return Number(t.value);
}

/**
 * A client recorded only by the pre-nfsdcltrack recovery directory: if the kernel names its
 * legacy directory and it exists, record the client and remove the directory, as
 * cltrack_check_legacy() does.
 */
async function importLegacyRecord(ctx: Context, conn: AgentConnection, client: string): Promise<boolean> {
  const recdir = ctx.env.NFSDCLTRACK_LEGACY_RECDIR;
  if (!recdir) return false;
  try {
    if (!statSync(recdir).isDirectory()) return false;
  } catch {
    return false;
  }
  const reply = await ask(ctx, conn, { op: 'create', client, hasSession: hasSession(ctx.env) });
  if (reply?.status !== 'OK') return false;
  try {
    rmdirSync(recdir);
    return true;
  } catch (e) {
    ctx.debug(`Failed to rmdir ${recdir}: ${(e as Error).message}`);
    return false;
  }
}

/** Best effort, as cltrack_legacy_gracedone(): empty the legacy recovery directory. */
function clearLegacyTopdir(ctx: Context): void {
  const topdir = ctx.env.NFSDCLTRACK_LEGACY_TOPDIR;
  if (!topdir) return;
  let entries: string[];
  try {
    entries = readdirSync(topdir);
  } catch {
    return;
  }
  for (const entry of entries) {
    try {
      rmdirSync(join(topdir, entry));
    } catch (e) {
      ctx.error(`unable to rmdir ${join(topdir, entry)}: ${(e as Error).message}`);
    }
  }
}

/** A C main() returning a negative errno exits with its low byte. */
function status(rc: number): number {
  return rc & 0xff;
}

function usage(progname: string): string {
  return (
    `Usage: ${progname} [ -hfd ] [ -s dir ] < cmd > < arg >\n` +
    'Where < cmd > is one of the following and takes the following < arg >:\n' +
    '    init\n' +
    '    create <nfs_client_id4>\n' +
    '    remove <nfs_client_id4>\n' +
    '    check  <nfs_client_id4>\n' +
    '    gracedone <epoch time>\n'
  );
}
