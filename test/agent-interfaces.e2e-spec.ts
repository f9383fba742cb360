/**
 * SPEC §4.1: the three interfaces give the same answers. One in-process agent on real NATS is
 * asked the same questions through the JSON socket, the cld socket and gk-cltrack, in every
 * state a client record can be in, before, during and after a grace period.
 */
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { CldStatus, encodeUpcall } from '#cld';
import { jsonLinesConnector } from '../apps/gk-cltrack/src/agent-transport';
import { runCltrack } from '../apps/gk-cltrack/src/cltrack';
import { CldStreamClient } from '../apps/node-agent/test/cld-client';
import { AgentClient } from '#agent-client';
import { startTestAgent, type TestAgent } from '../apps/node-agent/test/in-process';
import { AGENT_CLIENT_OPTIONS, cleanupStream, testNatsUrl, testStreamNames } from '#testing';

jest.setTimeout(60_000);
const names = testStreamNames('agentifaces');
let admin: NatsConnection;
let agent: TestAgent;
let json: AgentClient;
let cld: CldStreamClient;
let cldSocket: { destroy(): void };
let xid = 1;

beforeAll(async () => {
  admin = await natsConnect({ servers: testNatsUrl() });
  agent = await startTestAgent({ natsUrl: testNatsUrl(), names, cluster: 'faces', node: 'n1' });
  json = await AgentClient.connect(agent.jsonPath, AGENT_CLIENT_OPTIONS);
  const c = await CldStreamClient.connect(agent.cldPath);
  cld = c.client;
  cldSocket = c.socket;
});
afterAll(async () => {
  json.close();
  cldSocket.destroy();
  await agent.stop();
  await cleanupStream(admin, names);
  await admin.close();
});

const hex = (s: string) => Buffer.from(s).toString('hex');
type Verdict = 'valid' | 'invalid' | 'failed';

/** One question, three interfaces, the answers mapped to a common verdict. */
async function checkEverywhere(name: string): Promise<Verdict[]> {
  const viaJson = await json.send({ op: 'check', client: hex(name), hasSession: true });
  const x = xid++;
  const viaCld = (await cld.call(encodeUpcall({ version: 2, cmd: 'Check', xid: x, name: Buffer.from(name) }), x)).decoded[0]!.status;
  const viaCltrack = await cltrack(['check', hex(name)], { NFSDCLTRACK_CLIENT_HAS_SESSION: 'Y' });
  return [
    viaJson.status === 'OK' ? 'valid' : viaJson.status === 'NFS4ERR_RECLAIM_BAD' ? 'invalid' : 'failed',
    viaCld === 0 ? 'valid' : viaCld === CldStatus.EACCES ? 'invalid' : 'failed',
    viaCltrack === 0 ? 'valid' : viaCltrack === 255 ? 'invalid' : 'failed',
  ];
}

const cltrack = (args: string[], env: Record<string, string> = {}) =>
  runCltrack(['/usr/sbin/gk-cltrack', ...args], { GK_AGENT_SOCKET: agent.jsonPath, ...env }, { connect: jsonLinesConnector(10_000), stdout: () => undefined, stderr: () => undefined });

async function createVia(iface: 'json' | 'cld' | 'cltrack', name: string): Promise<boolean> {
  if (iface === 'json') return (await json.send({ op: 'create', client: hex(name) })).status === 'OK';
  if (iface === 'cltrack') return (await cltrack(['create', hex(name)], { NFSDCLTRACK_CLIENT_HAS_SESSION: 'Y' })) === 0;
  const x = xid++;
  return (await cld.call(encodeUpcall({ version: 2, cmd: 'Create', xid: x, name: Buffer.from(name) }), x)).decoded[0]!.status === 0;
}

async function expectSameEverywhere(expected: Record<string, Verdict>): Promise<void> {
  const got: Record<string, Verdict[]> = {};
  for (const name of Object.keys(expected)) got[name] = await checkEverywhere(name);
  expect(got).toEqual(Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, [v, v, v]])));
}

describe('JSON socket, cld and gk-cltrack give the same answers', () => {
  it('in every state of a client record, through a grace period', async () => {
    // Records written through each interface are seen by all three.
    expect(await createVia('json', 'by-json')).toBe(true);
    expect(await createVia('cld', 'by-cld')).toBe(true);
    expect(await createVia('cltrack', 'by-cltrack')).toBe(true);
    expect(await createVia('json', 'removed')).toBe(true);
    expect((await json.send({ op: 'remove', client: hex('removed') })).status).toBe('OK');
    await expectSameEverywhere({ 'by-json': 'valid', 'by-cld': 'valid', 'by-cltrack': 'valid', removed: 'invalid', unknown: 'invalid' });

    // The server restarts (through cld): the cld stream lists what JSON counts as reclaimable.
    const x = xid++;
    const started = await cld.call(encodeUpcall({ version: 2, cmd: 'GraceStart', xid: x }), x);
    const streamed = started.decoded.filter((d) => d.status === CldStatus.EINPROGRESS).map((d) => d.name!.toString()).sort();
    expect(streamed).toEqual(['by-cld', 'by-cltrack', 'by-json']);
    expect(await json.send({ op: 'status' })).toMatchObject({ records: { reclaimable: 3 } });

    // During grace: one reclaimed, one created anew, the others still hold records of R.
    expect((await json.send({ op: 'reclaim', client: hex('by-cld') })).status).toBe('OK');
    expect(await createVia('cltrack', 'new-in-grace')).toBe(true);
    await expectSameEverywhere({ 'by-json': 'valid', 'by-cld': 'valid', 'by-cltrack': 'valid', 'new-in-grace': 'valid', removed: 'invalid' });

    // Grace ends (gk-cltrack's gracedone): what was not reclaimed is gone, on every interface.
    expect(await cltrack(['gracedone', '0'])).toBe(0);
    await expectSameEverywhere({ 'by-json': 'invalid', 'by-cld': 'valid', 'by-cltrack': 'invalid', 'new-in-grace': 'valid', removed: 'invalid' });
  });
});
