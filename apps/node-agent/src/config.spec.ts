import { ConfigError } from '#service-kit';
import { DEFAULT_END_GRACE_FILE, DEFAULT_JSON_SOCKET, parseAgentArgs } from './config';

const config = (argv: string[], env: Record<string, string> = {}) => {
  const r = parseAgentArgs(argv, env);
  if (r.help) throw new Error('help');
  return r.config;
};

describe('gk-node-agent arguments', () => {
  it('has documented defaults, and needs only the node', () => {
    expect(config(['--node', 'a'])).toEqual({
      cluster: 'default',
      node: 'a',
      natsUrl: 'nats://127.0.0.1:4222',
      names: { prefix: 'gk', stream: 'GK_EVENTS' },
      jsonSocket: DEFAULT_JSON_SOCKET,
      cldSocket: undefined,
      cldPipe: undefined,
      cldPipeMode: 'auto',
      endGraceFile: DEFAULT_END_GRACE_FILE,
      adminPort: 8091,
      adminToken: undefined,
      requestTimeoutMs: 5000,
      // The agent's own group; root and the agent's user; peers checked.
      socketAccess: { gid: process.getegid!(), allowUids: [...new Set([0, process.geteuid!()])], allowGids: [process.getegid!()], peerCheck: true },
      autoJoin: false,
      heartbeatMs: 1000,
    });
  });

  it('heartbeats every --heartbeat-ms (GK_HEARTBEAT_MS), or not at all with off', () => {
    expect(config(['--node', 'a', '--heartbeat-ms', '250']).heartbeatMs).toBe(250);
    expect(config(['--node', 'a'], { GK_HEARTBEAT_MS: 'off' }).heartbeatMs).toBeUndefined();
    expect(() => config(['--node', 'a', '--heartbeat-ms', '0'])).toThrow(/GK_HEARTBEAT_MS/);
  });

  it('reads the socket group, the allow lists (names or ids) and the peer check', () => {
    expect(config(['--node', 'a', '--socket-group', 'nogroup', '--socket-allow-uids', 'root,1000'], { GK_SOCKET_ALLOW_GIDS: '0,nogroup', GK_SOCKET_PEER_CHECK: 'off' }).socketAccess)
      .toEqual({ gid: 65534, allowUids: [0, 1000], allowGids: [0, 65534], peerCheck: false });
    expect(() => config(['--node', 'a', '--socket-group', 'no-such-group-gk'])).toThrow(/GK_SOCKET_GROUP: no group "no-such-group-gk"/);
  });

  it('serves the identities given by repeated --identity or GK_IDENTITIES, primary first, without repeats', () => {
    expect(config(['--node', 'h1', '--identity', 'vip1', '--identity=vip2', '--identity', 'vip1']).identities).toEqual(['vip1', 'vip2']);
    expect(config(['--node', 'h1'], { GK_IDENTITIES: 'b, c' }).identities).toEqual(['b', 'c']);
    expect(config(['--node', 'h1', '--identity', 'z'], { GK_IDENTITIES: 'b,c' }).identities).toEqual(['z']);
    expect(config(['--node', 'h1']).identities).toBeUndefined();
    expect(() => config(['--node', 'h1', '--identity', 'bad id'])).toThrow(/invalid identity "bad id"/);
  });

  it('takes every setting from flags (--flag v and --flag=v) or the environment, flags first', () => {
    const c = config(
      ['--cluster=prod', '--node', 'n1', '--nats', 'nats://x:4222', '--json-socket', 'off', '--cld-socket=/run/c.sock', '--admin-port', 'off', '--end-grace-file', 'off'],
      { GK_CLUSTER: 'ignored', GK_PREFIX: 'gk2', GK_CLD_PIPE: '/var/lib/nfs/rpc_pipefs/nfsd/cld', GK_ADMIN_TOKEN: 'a-long-token', GK_REQUEST_TIMEOUT_MS: '900', GK_CLD_SOCKET: '' },
    );
    expect(c).toMatchObject({
      cluster: 'prod',
      node: 'n1',
      natsUrl: 'nats://x:4222',
      names: { prefix: 'gk2' },
      jsonSocket: undefined,
      cldSocket: '/run/c.sock',
      cldPipe: '/var/lib/nfs/rpc_pipefs/nfsd/cld',
      endGraceFile: undefined,
      adminPort: undefined,
      adminToken: 'a-long-token',
      requestTimeoutMs: 900,
    });
  });

  it('reports every problem at once', () => {
    let error: unknown;
    try {
      parseAgentArgs(['--admin-port', '99999', '--json-socket', 'relative.sock'], { GK_CLUSTER: 'bad cluster', NATS_URL: 'http://x' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['GK_NODE', 'GK_CLUSTER', 'NATS_URL', 'GK_ADMIN_PORT', 'GK_JSON_SOCKET']) expect(problems).toContain(name);
  });

  it('refuses unknown flags and flags without a value', () => {
    expect(() => parseAgentArgs(['--node', 'a', '--bogus'], {})).toThrow(/unknown argument "--bogus"/);
    expect(() => parseAgentArgs(['--node'], {})).toThrow(/--node needs a value/);
  });

  it('answers --help', () => {
    expect(parseAgentArgs(['--node', 'a', '--help'], {})).toEqual({ help: true });
  });
});
