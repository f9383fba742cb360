/**
 * The cluster-manager scripts (deploy/cluster) against a real cluster: the shared NATS JetStream,
 * real gk-node-agent processes for hosts a and b (a may serve identities a, b and z, b only b), and
 * the real gracectl. The pacemaker resource agent passes Debian's `ocf-tester` and is then called
 * as pacemaker calls it; the CTDB event script and the keepalived notify script are called as
 * ctdb and keepalived call them. Every move is checked in the event log (IdentityMoved) and in
 * the agents' view.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { openGraceStore, type OpenedStore } from '#cluster-store';
import { subjects } from '#contracts';
import { cleanupStream, distMain, ensureBuilt, testNatsUrl, testStreamNames } from '#testing';
import { spawnAgent, type AgentProcess } from '../../apps/node-agent/test/agent-process';
import { requireTool, ROOT, run, type ToolResult } from './support';

jest.setTimeout(180_000);
const names = testStreamNames('clustermgr');
const CLUSTER = 'cm';
const SCRIPTS = join(ROOT, 'deploy', 'cluster');
const OCF_AGENT = join(SCRIPTS, 'gracekeeper-identity');
const GRACECTL = join(ROOT, 'bin', 'gracectl.js');
const OCF = { SUCCESS: 0, ERR_GENERIC: 1, ERR_INSTALLED: 5, NOT_RUNNING: 7 };

let dir: string;
let admin: NatsConnection;
let opened: OpenedStore;
const agents = new Map<string, { process: AgentProcess; url: string }>();
/** The environment file the scripts read (cluster-manager.env.example's variables). */
let envFile: string;

const gracectlEnv = { NATS_URL: testNatsUrl(), GK_PREFIX: names.prefix, GK_CLUSTER: CLUSTER };

async function startAgent(host: string, identities: string[]): Promise<void> {
  const args = ['--cluster', CLUSTER, '--node', host, ...identities.flatMap((i) => ['--identity', i]),
    '--json-socket', join(dir, `${host}.sock`), '--admin-port', '0', '--end-grace-file', 'off'];
  const agent = spawnAgent(args, { NATS_URL: testNatsUrl(), GK_PREFIX: names.prefix });
  await agent.ready;
  const url = /admin=(http:\/\/127\.0\.0\.1:\d+)/.exec(agent.output())?.[1];
  if (!url) throw new Error(`no admin URL in the agent's output:\n${agent.output()}`);
  agents.set(host, { process: agent, url });
}

/** The environment a script runs with on `host` (its agent, its own HA_RSCTMP). */
function hostEnv(host: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, GK_CLUSTER_ENV: envFile, GK_AGENT_URL: agents.get(host)!.url, HA_RSCTMP: join(dir, `rsc-${host}`), ...extra };
}

/** The OCF agent as pacemaker runs it on `host` for the resource gk-<identity>. */
function ocf(host: string, action: string, identity: string, params: Record<string, string> = {}): Promise<ToolResult> {
  const reskeys = Object.fromEntries(Object.entries({ identity, env_file: envFile, agent_url: agents.get(host)!.url, ...params }).map(([k, v]) => [`OCF_RESKEY_${k}`, v]));
  return run(OCF_AGENT, [action], { env: { ...hostEnv(host), OCF_ROOT: '/usr/lib/ocf', OCF_RESOURCE_INSTANCE: `gk-${identity}`, ...reskeys } });
}

async function placementOf(host: string, identity: string): Promise<{ host: string; generation: number }> {
  const s = (await (await fetch(`${agents.get(host)!.url}/status`)).json()) as { grace: { placements?: { node: string; host: string; generation: number }[] } };
  const p = s.grace.placements?.find((x) => x.node === identity);
  return p ? { host: p.host, generation: p.generation } : { host: identity, generation: 0 };
}

/** Every IdentityMoved of the log, as "identity from→to @generation". */
async function movesInLog(): Promise<string[]> {
  const { messages } = await opened.store.readStream(subjects.cluster(names, CLUSTER));
  return messages.flatMap((m) => m.message.events).flatMap((e) => (e.type === 'IdentityMoved' ? [`${e.node} ${e.fromHost}→${e.toHost} @${e.generation}`] : []));
}

beforeAll(async () => {
  requireTool('ocf-tester', 'resource-agents');
  requireTool('xmllint', 'libxml2-utils');
  await ensureBuilt([distMain('gracectl')]);
  dir = mkdtempSync(join(tmpdir(), 'gk-cluster-manager-'));
  admin = await natsConnect({ servers: testNatsUrl() });
  const added = await run(process.execPath, [GRACECTL, 'add', 'a', 'b'], { env: { PATH: process.env.PATH, ...gracectlEnv } });
  expect(added).toMatchObject({ code: 0, stderr: '' });
  opened = await openGraceStore({ natsUrl: testNatsUrl(), names, name: 'cluster-manager-test' });
  // z: an identity a may serve that is not a member of the cluster.
  await startAgent('a', ['a', 'b', 'z']);
  await startAgent('b', ['b']);
  const map = join(dir, 'identities.map');
  writeFileSync(map, '# address or VRRP instance, identity\n10.0.0.11 a\n10.0.0.12 b\nVI_B b\n');
  envFile = join(dir, 'cluster-manager.env');
  writeFileSync(envFile, Object.entries({ ...gracectlEnv, GK_GRACECTL: GRACECTL, GK_NODE_BIN: process.execPath, GK_IDENTITY_MAP: map, GK_MOVE_TIMEOUT: '20' })
    .map(([k, v]) => `${k}=${v}\n`).join(''));
}, 240_000);

afterAll(async () => {
  for (const { process: p } of agents.values()) await p.kill('SIGTERM');
  await opened?.close();
  if (admin) {
    await cleanupStream(admin, names);
    await admin.close();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('pacemaker resource agent (deploy/cluster/gracekeeper-identity)', () => {
  it("passes ocf-tester on host a for identity b, and its start moved b to a in the log", async () => {
    const r = await run(requireTool('ocf-tester', 'resource-agents'), ['-n', 'gk-b', '-o', 'identity=b', '-o', `env_file=${envFile}`, '-o', `agent_url=${agents.get('a')!.url}`, OCF_AGENT],
      { env: { ...hostEnv('a'), OCF_ROOT: '/usr/lib/ocf' }, timeoutMs: 120_000 });
    expect(`${r.stdout}${r.stderr}`).toContain(`${OCF_AGENT} passed all tests`);
    expect(r.code).toBe(0);
    // ocf-tester started it twice (a repeated start moves to the serving host: nothing new).
    expect(await movesInLog()).toEqual(['b b→a @1']);
    expect(await placementOf('a', 'b')).toEqual({ host: 'a', generation: 1 });
    expect(await placementOf('b', 'b')).toEqual({ host: 'a', generation: 1 });
  });

  it('failback as pacemaker does it: stop on a, start on b; a monitor on a then says not running, and a move behind its back fails the monitor', async () => {
    expect((await ocf('a', 'start', 'b')).code).toBe(OCF.SUCCESS);
    expect((await ocf('a', 'stop', 'b')).code).toBe(OCF.SUCCESS);
    expect((await ocf('b', 'monitor', 'b')).code).toBe(OCF.NOT_RUNNING);
    expect((await ocf('b', 'start', 'b')).code).toBe(OCF.SUCCESS);
    expect((await ocf('b', 'monitor', 'b')).code).toBe(OCF.SUCCESS);
    expect((await ocf('a', 'monitor', 'b')).code).toBe(OCF.NOT_RUNNING);
    expect(await placementOf('b', 'b')).toEqual({ host: 'b', generation: 2 });
    expect(await movesInLog()).toEqual(['b b→a @1', 'b a→b @2']);

    // Someone moves b to a without pacemaker: the monitor on b reports the failure, with why.
    expect(await run(process.execPath, [GRACECTL, 'move', 'b', 'a'], { env: { PATH: process.env.PATH, ...gracectlEnv } })).toMatchObject({ code: 0 });
    const failed = await ocf('b', 'monitor', 'b');
    expect(failed.code).toBe(OCF.ERR_GENERIC);
    expect(failed.stderr).toContain('identity b is served by host a now, not by b');
    expect((await ocf('b', 'stop', 'b')).code).toBe(OCF.SUCCESS);
  });

  it('refuses to start where the identity cannot be served: not among the agent\'s identities, not a member, no agent', async () => {
    const moves = await movesInLog();
    const notServed = await ocf('b', 'start', 'a');
    expect(notServed.code).toBe(OCF.ERR_INSTALLED);
    expect(notServed.stderr).toContain('the node-agent on host b does not serve it (add --identity a)');
    expect((await ocf('b', 'monitor', 'a')).code).toBe(OCF.NOT_RUNNING);
    const notMember = await ocf('a', 'start', 'z');
    expect(notMember.code).toBe(OCF.ERR_INSTALLED);
    expect(notMember.stderr).toContain('it is not a member of the cluster (gracectl add z)');
    const noAgent = await ocf('a', 'start', 'b', { agent_url: 'http://127.0.0.1:9' });
    expect(noAgent.code).toBe(OCF.ERR_GENERIC);
    expect(noAgent.stderr).toContain('does not answer');
    expect((await ocf('a', 'validate-all', 'no/such')).code).toBe(6);
    expect(await movesInLog()).toEqual(moves);
  });
});

describe('CTDB event script (deploy/cluster/70.gracekeeper)', () => {
  const ctdb = (host: string, ...args: string[]) => run(join(SCRIPTS, '70.gracekeeper'), args, { env: hostEnv(host) });

  it("takeip of b's address on a moves b to a; releaseip and an address the map does not name change nothing; an identity the agent cannot serve fails the event; monitor checks the agent", async () => {
    const before = await movesInLog();
    const last = await placementOf('a', 'b');
    expect(await ctdb('b', 'takeip', 'eth0', '10.0.0.12', '24')).toMatchObject({ code: 0 });
    const onB = { host: 'b', generation: last.generation + 1 };
    expect(await placementOf('b', 'b')).toEqual(onB);
    expect(await ctdb('b', 'releaseip', 'eth0', '10.0.0.12', '24')).toMatchObject({ code: 0 });
    expect(await ctdb('a', 'takeip', 'eth0', '10.0.0.99', '24')).toMatchObject({ code: 0 });
    // a's address on b, whose agent cannot serve a: the event fails (CTDB does not keep the address there).
    const refused = await ctdb('b', 'takeip', 'eth0', '10.0.0.11', '24');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('the node-agent on host b does not serve it (add --identity a)');
    expect(await placementOf('a', 'b')).toEqual(onB);

    const took = await ctdb('a', 'takeip', 'eth0', '10.0.0.12', '24');
    expect(took.code).toBe(0);
    expect(took.stderr).toContain('identity b is served by host a (placement generation');
    expect(await placementOf('a', 'b')).toEqual({ host: 'a', generation: onB.generation + 1 });
    expect((await movesInLog()).slice(before.length)).toEqual([`b ${last.host}→b @${onB.generation}`, `b b→a @${onB.generation + 1}`]);

    expect(await ctdb('a', 'monitor')).toMatchObject({ code: 0 });
    expect((await run(join(SCRIPTS, '70.gracekeeper'), ['monitor'], { env: { ...hostEnv('a'), GK_AGENT_URL: 'http://127.0.0.1:9' } })).code).toBe(1);
  });
});

describe('keepalived notify script (deploy/cluster/gracekeeper-keepalived-notify)', () => {
  const notify = (host: string, ...args: string[]) => run(join(SCRIPTS, 'gracekeeper-keepalived-notify'), args, { env: hostEnv(host) });

  it("MASTER on b moves b back to b; BACKUP and FAULT change nothing; a bad call is an error", async () => {
    const before = await movesInLog();
    const from = await placementOf('b', 'b');
    expect(await notify('a', 'INSTANCE', 'VI_B', 'BACKUP', '100')).toMatchObject({ code: 0 });
    expect(await notify('b', 'INSTANCE', 'VI_B', 'MASTER', '150')).toMatchObject({ code: 0 });
    expect(await placementOf('a', 'b')).toEqual({ host: 'b', generation: from.generation + 1 });
    expect(await notify('a', 'INSTANCE', 'VI_B', 'FAULT', '100')).toMatchObject({ code: 0 });
    expect(await notify('b', 'INSTANCE', 'VI_OTHER', 'MASTER', '150')).toMatchObject({ code: 0 });
    expect((await movesInLog()).slice(before.length)).toEqual([`b ${from.host}→b @${from.generation + 1}`]);
    expect((await notify('b', 'VI_B', 'MASTER')).code).toBe(2);
  });
});
