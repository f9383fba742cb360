import { z } from 'zod';
import { NodeIdSchema, streamNames, type StreamNames } from '#contracts';
import { ConfigError, env, loadConfig, type LoadConfigOptions, socketAccess, type SocketAccess } from '#service-kit/plain';

export const DEFAULT_JSON_SOCKET = '/run/gracekeeper/agent.sock';
export const DEFAULT_END_GRACE_FILE = '/proc/fs/nfsd/v4_end_grace';
export const DEFAULT_ADMIN_PORT = 8091;

/** Command-line flags and the environment variable each one sets (the flag wins). */
export const FLAGS: Record<string, { variable: string; help: string }> = {
  '--cluster': { variable: 'GK_CLUSTER', help: 'cluster id (default: default)' },
  '--node': { variable: 'GK_NODE', help: 'this NFS server\'s node id (required)' },
  '--identity': { variable: 'GK_IDENTITIES', help: 'a server identity served here; repeatable, or comma-separated; the first is the one cld and gk-cltrack act for (default: the node id)' },
  '--nats': { variable: 'NATS_URL', help: 'NATS server(s), comma-separated (default: nats://127.0.0.1:4222)' },
  '--prefix': { variable: 'GK_PREFIX', help: 'subject prefix of the event stream (default: gk)' },
  '--json-socket': { variable: 'GK_JSON_SOCKET', help: `JSON API socket, or "off" (default: ${DEFAULT_JSON_SOCKET})` },
  '--cld-socket': { variable: 'GK_CLD_SOCKET', help: 'cld frames on a Unix stream socket (default: none)' },
  '--cld-pipe': { variable: 'GK_CLD_PIPE', help: 'rpc_pipefs cld pipe, e.g. /var/lib/nfs/rpc_pipefs/nfsd/cld (default: none)' },
  '--socket-group': { variable: 'GK_SOCKET_GROUP', help: 'group of the sockets (mode 0660) and of a directory created for them (0750): the one nfsd or ganesha runs as (default: the agent\'s group)' },
  '--socket-allow-uids': { variable: 'GK_SOCKET_ALLOW_UIDS', help: 'users (names or uids, comma-separated) whose connections are accepted (default: root and the agent\'s user)' },
  '--socket-allow-gids': { variable: 'GK_SOCKET_ALLOW_GIDS', help: 'groups (names or gids) whose members\' connections are accepted, by the peer\'s primary group (default: the socket group)' },
  '--socket-peer-check': { variable: 'GK_SOCKET_PEER_CHECK', help: 'check each connection\'s peer credentials (SO_PEERCRED): on, or off for development (default: on)' },
  '--end-grace-file': { variable: 'GK_END_GRACE_FILE', help: `written with Y when the cluster's grace ends, or "off" (default: ${DEFAULT_END_GRACE_FILE})` },
  '--admin-port': { variable: 'GK_ADMIN_PORT', help: `REST admin port (status, health, metrics), 0 for any, or "off" (default: ${DEFAULT_ADMIN_PORT})` },
  '--admin-token-file': { variable: 'GK_ADMIN_TOKEN_FILE', help: 'file holding the bearer token for admin changes (default: changes refused)' },
  '--admin-token': { variable: 'GK_ADMIN_TOKEN', help: 'the admin token itself (development: visible to other processes; prefer the file)' },
  '--read-token-file': { variable: 'GK_READ_TOKEN_FILE', help: 'file holding the bearer token /status needs (default: reads open on the admin port)' },
  '--auto-join': { variable: 'GK_AUTO_JOIN', help: 'this node may make itself a member (and create a missing cluster): 1 or 0 (default: 0, membership is the operator\'s)' },
  '--heartbeat-ms': { variable: 'GK_HEARTBEAT_MS', help: 'publish a heartbeat this often, for the coordinator\'s dead-host detection; "off" for none (default: 1000)' },
  '--request-timeout-ms': { variable: 'GK_REQUEST_TIMEOUT_MS', help: 'answer "retry later" when the event store is slower than this (default: 5000)' },
};

const path = (what: string) => z.string().min(1, `${what}: a path`).refine((p) => p.startsWith('/'), `${what}: an absolute path`);
const offOr = <T extends z.ZodType>(schema: T) => z.union([z.literal('off'), schema]);

const AgentEnvSchema = z.object({
  GK_CLUSTER: env.cluster,
  GK_NODE: NodeIdSchema,
  GK_IDENTITIES: z.string().optional().transform((v, ctx) => {
    const ids = (v ?? '').split(',').map((x) => x.trim()).filter(Boolean);
    for (const id of ids) if (!NodeIdSchema.safeParse(id).success) ctx.addIssue({ code: 'custom', message: `invalid identity ${JSON.stringify(id)}` });
    return ids.length ? [...new Set(ids)] : undefined;
  }),
  NATS_URL: env.natsUrl,
  GK_PREFIX: env.prefix,
  GK_JSON_SOCKET: offOr(path('JSON socket')).default(DEFAULT_JSON_SOCKET),
  GK_CLD_SOCKET: path('cld socket').optional(),
  GK_CLD_PIPE: path('cld pipe').optional(),
  GK_SOCKET_GROUP: z.string().min(1).optional(),
  GK_SOCKET_ALLOW_UIDS: z.string().optional(),
  GK_SOCKET_ALLOW_GIDS: z.string().optional(),
  GK_SOCKET_PEER_CHECK: z.enum(['on', 'off']).default('on'),
  GK_END_GRACE_FILE: offOr(path('end-grace file')).default(DEFAULT_END_GRACE_FILE),
  GK_ADMIN_PORT: offOr(z.coerce.number().int().min(0).max(65535)).default(DEFAULT_ADMIN_PORT),
  GK_ADMIN_TOKEN: env.optionalToken,
  GK_READ_TOKEN: env.optionalToken,
  GK_REQUEST_TIMEOUT_MS: env.positiveMs(5000),
  GK_AUTO_JOIN: z.enum(['0', '1']).default('0'),
  GK_HEARTBEAT_MS: offOr(z.coerce.number().int().min(10).max(60_000)).default(1000),
  /** Tests and simulators only: how to read the cld pipe when it is not on rpc_pipefs. */
  GK_CLD_PIPE_MODE: z.enum(['auto', 'messages', 'stream']).default('auto'),
});

export interface AgentConfig {
  cluster: string;
  node: string;
  /** Identities served here, primary first; undefined: the node id alone. */
  identities?: string[];
  natsUrl: string;
  names: StreamNames;
  jsonSocket?: string;
  cldSocket?: string;
  cldPipe?: string;
  cldPipeMode: 'auto' | 'messages' | 'stream';
  /** Group, modes and allowed peers of the JSON and cld sockets. */
  socketAccess: SocketAccess;
  endGraceFile?: string;
  adminPort?: number;
  adminToken?: string;
  readToken?: string;
  requestTimeoutMs: number;
  autoJoin: boolean;
  /** Heartbeat interval; undefined: no heartbeats (the coordinator then reports every identity here silent, if liveness is on). */
  heartbeatMs?: number;
}

export type ParsedArgs = { help: true } | { help: false; config: AgentConfig };

/** Flags over environment, validated once; every problem is reported together (ConfigError). */
export function parseAgentArgs(argv: readonly string[], environment: Record<string, string | undefined>, options: LoadConfigOptions = {}): ParsedArgs {
  const source: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(environment)) if (v !== '') source[k] = v;
  const problems: string[] = [];
  let identityGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { help: true };
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const flag = FLAGS[name];
    if (!flag) {
      problems.push(`unknown argument ${JSON.stringify(arg)} (see --help)`);
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) problems.push(`${name} needs a value`);
    // A repeated --identity adds one (the other flags: the last one wins).
    else if (name === '--identity' && identityGiven) source[flag.variable] += `,${value}`;
    else source[flag.variable] = value;
    if (name === '--identity') identityGiven = true;
  }
  if (problems.length) throw new ConfigError(problems);
  const c = loadConfig(AgentEnvSchema, source, options);
  const off = <T>(v: T | 'off'): T | undefined => (v === 'off' ? undefined : v);
  return {
    help: false,
    config: {
      cluster: c.GK_CLUSTER,
      node: c.GK_NODE,
      identities: c.GK_IDENTITIES,
      natsUrl: c.NATS_URL,
      names: streamNames(c.GK_PREFIX),
      jsonSocket: off(c.GK_JSON_SOCKET),
      cldSocket: c.GK_CLD_SOCKET,
      cldPipe: c.GK_CLD_PIPE,
      cldPipeMode: c.GK_CLD_PIPE_MODE,
      socketAccess: socketAccess({ group: c.GK_SOCKET_GROUP, allowUids: c.GK_SOCKET_ALLOW_UIDS, allowGids: c.GK_SOCKET_ALLOW_GIDS, peerCheck: c.GK_SOCKET_PEER_CHECK }),
      endGraceFile: off(c.GK_END_GRACE_FILE),
      adminPort: off(c.GK_ADMIN_PORT),
      adminToken: c.GK_ADMIN_TOKEN,
      readToken: c.GK_READ_TOKEN,
      requestTimeoutMs: c.GK_REQUEST_TIMEOUT_MS,
      autoJoin: c.GK_AUTO_JOIN === '1',
      heartbeatMs: off(c.GK_HEARTBEAT_MS),
    },
  };
}

export function usage(): string {
  const lines = Object.entries(FLAGS).map(([flag, { variable, help }]) => `  ${`${flag} (${variable})`.padEnd(46)} ${help}`);
  return `Usage: gk-node-agent --node N [options]\n\nOptions (each also settable by its environment variable):\n${lines.join('\n')}\n`;
}
