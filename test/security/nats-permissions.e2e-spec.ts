/**
 * The trust boundary on NATS (SPEC §6, I9), against a nats-server of this test's own started with
 * deploy/nats/permissions.conf exactly as shipped: each service identity can do what it needs and
 * nothing more, and nothing an unauthorised identity sends changes a decision.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { decisionCodec, decodeHeartbeat, encodeHeartbeat, streamNames, subjects, type AnyRequest, type Heartbeat } from '#contracts';
import { connectNats, executeOnce, loadCluster, openGraceStore, type OpenedStore } from '#cluster-store';
import { decide, seal, type Command } from '#domain';
import { eventStreamConfig } from '#event-store';
import { startNatsServer, type NatsServer } from '#infra';
import { GraceCoordinator } from '../../apps/grace-coordinator/src/coordinator';
import { startTestAgent, type TestAgent } from '../../apps/node-agent/test/in-process';

const PERMISSIONS = join(__dirname, '../../deploy/nats/permissions.conf');
const names = streamNames('gk');
const cluster = 'default';
const PASSWORDS = {
  'gk-agent-default': 'agent-secret-1',
  'gk-coordinator': 'coordinator-secret-1',
  'gk-registry': 'registry-secret-1',
  'gk-operator': 'operator-secret-1',
};
type Identity = keyof typeof PASSWORDS;

let server: NatsServer;
let dir: string;
const closers: Array<() => Promise<unknown>> = [];

/** The environment a process of `identity` runs with: its user file, production mode. */
function environmentOf(identity: Identity): Record<string, string> {
  const file = join(dir, `${identity}.user`);
  writeFileSync(file, `${identity}\n${PASSWORDS[identity]}\n`, { mode: 0o600 });
  return { GK_NATS_USER_FILE: file, GK_DEV_MODE: '0' };
}

async function connectAs(identity: Identity): Promise<NatsConnection> {
  const nc = await connectNats(server.url, environmentOf(identity), { name: identity, reconnect: false });
  closers.push(() => nc.close());
  return nc;
}

async function openAs(identity: Identity, provision = false): Promise<OpenedStore> {
  const opened = await openGraceStore({ natsUrl: server.url, names, name: identity, provision, environment: environmentOf(identity) });
  closers.push(() => opened.close());
  return opened;
}

/** A GraceEnded decision for the cluster as it is now, sealed like a real one. */
async function forgedGraceEnd(store: OpenedStore['store']): Promise<Uint8Array> {
  const { state } = await loadCluster(store, names, cluster);
  const outcome = decide({ type: 'end', reason: 'admin' }, state);
  if (!outcome.ok) throw new Error(`cannot forge: ${outcome.rejection.message}`);
  return decisionCodec.encode(seal(state, outcome.decision.events, { cluster, decisionId: `forged-${Date.now()}`, actor: 'coordinator:forged', time: new Date() }));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gk-nats-auth-'));
  const env = {
    GK_NATS_AGENT_DEFAULT_PASSWORD: PASSWORDS['gk-agent-default'],
    GK_NATS_COORDINATOR_PASSWORD: PASSWORDS['gk-coordinator'],
    GK_NATS_REGISTRY_PASSWORD: PASSWORDS['gk-registry'],
    GK_NATS_OPERATOR_PASSWORD: PASSWORDS['gk-operator'],
  };
  server = await startNatsServer({ extraConfig: readFileSync(PERMISSIONS, 'utf8'), env });
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('NATS with deploy/nats/permissions.conf', () => {
  let operator: OpenedStore;
  let agent: TestAgent;

  beforeAll(async () => {
    // Only the operator may create the stream (gracectl init); then the cluster, in grace for a.
    operator = await openAs('gk-operator', true);
    for (const command of [{ type: 'add', nodes: ['a', 'b'] }, { type: 'start', nodes: ['a'] }] satisfies Command[]) {
      const result = await executeOnce(operator.store, names, cluster, command, { actor: 'gracectl:test' });
      if (!result.ok) throw new Error(result.rejection.message);
    }
    const agentStore = await openAs('gk-agent-default');
    agent = await startTestAgent({ natsUrl: server.url, names, cluster, node: 'a', store: agentStore, autoJoin: false, heartbeatMs: 50 });
    closers.push(() => agent.stop());
  });

  it('refuses a connection without credentials or with a wrong password', async () => {
    await expect(connectNats(server.url, { GK_DEV_MODE: '0' }, { reconnect: false })).rejects.toThrow(/Authorization Violation/i);
    const wrong = join(dir, 'wrong.user');
    writeFileSync(wrong, 'gk-operator\nnot-the-password\n');
    await expect(connectNats(server.url, { GK_NATS_USER_FILE: wrong }, { reconnect: false })).rejects.toThrow(/Authorization Violation/i);
  });

  it('a service identity can neither create nor change a stream', async () => {
    const jsm = await jetstreamManager(await connectAs('gk-coordinator'));
    await expect(jsm.streams.add(eventStreamConfig(streamNames('gk_other')))).rejects.toThrow(/permission/i);
    await expect(jsm.streams.update(names.stream, { subjects: [subjects.all(names)], deny_delete: false })).rejects.toThrow(/permission/i);
  });

  it('an agent identity cannot delete or purge the stream, nor delete a message', async () => {
    const jsm = await jetstreamManager(await connectAs('gk-agent-default'));
    await expect(jsm.streams.delete(names.stream)).rejects.toThrow(/permission/i);
    await expect(jsm.streams.purge(names.stream)).rejects.toThrow(/permission/i);
    await expect(jsm.streams.deleteMessage(names.stream, 1)).rejects.toThrow(/permission/i);
    const opJsm = await jetstreamManager(operator.nc);
    // Not even the operator can purge (deny_purge) or delete messages (deny_delete and permissions).
    await expect(opJsm.streams.purge(names.stream)).rejects.toThrow(/permission|not permitted/i);
    await expect(opJsm.streams.delete(names.stream)).rejects.toThrow(/permission/i);
    expect((await opJsm.streams.info(names.stream)).state.first_seq).toBe(1);
  });

  it('an agent identity cannot answer coordinator requests: the server refuses its subscription', async () => {
    const nc = await connectAs('gk-agent-default');
    let refused: Error | undefined;
    nc.subscribe(subjects.coordinatorRequests(names, cluster), {
      callback: (err, msg) => {
        if (err) refused = err;
        else msg.respond('{"ok":true,"dump":"forged"}');
      },
    });
    await nc.flush();
    for (let i = 0; i < 50 && !refused; i++) await new Promise((r) => setTimeout(r, 20));
    expect(refused?.message).toMatch(/permission/i);
    // Nobody answers the operator's request: no responders, rather than the agent's forged reply.
    await expect(operator.nc.request(subjects.coordinatorRequests(names, cluster), '{"op":"dump"}', { timeout: 2000 })).rejects.toThrow(/no responders|503|timeout/i);
  });

  it('heartbeats: an agent publishes them, only the coordinator reads them, nobody else forges one, and the stream stores none', async () => {
    const stream = async () => (await jetstreamManager(operator.nc)).streams.info(names.stream);
    const before = (await stream()).state.messages;
    const coordinator = await connectAs('gk-coordinator');
    const seen: Heartbeat[] = [];
    coordinator.subscribe(subjects.heartbeats(names, cluster), {
      callback: (err, msg) => {
        const h = err ? undefined : decodeHeartbeat(msg.data);
        if (h?.ok) seen.push(h.value);
      },
    });
    await coordinator.flush();
    for (let i = 0; i < 100 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen[0]).toMatchObject({ cluster, host: 'a', identities: ['a'] });
    // A forged heartbeat (a silent host made to look alive) from the coordinator or the registry is dropped by the server.
    const forged = encodeHeartbeat({ kind: 'gk.heartbeat', v: 1, cluster, host: 'forged', identities: ['b'], seq: 0, sentAt: Date.now() });
    for (const identity of ['gk-coordinator', 'gk-registry'] as const) {
      const nc = identity === 'gk-coordinator' ? coordinator : await connectAs(identity);
      nc.publish(subjects.heartbeats(names, cluster), forged);
      await nc.flush();
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.filter((h) => h.host === 'forged')).toEqual([]);
    // An agent cannot read the heartbeats (nor learn which hosts are up).
    const agentNc = await connectAs('gk-agent-default');
    let refused: Error | undefined;
    agentNc.subscribe(subjects.heartbeats(names, cluster), { callback: (err) => { if (err) refused = err; } });
    await agentNc.flush();
    for (let i = 0; i < 50 && !refused; i++) await new Promise((r) => setTimeout(r, 20));
    expect(refused?.message).toMatch(/permission/i);
    expect((await stream()).state.messages).toBe(before);
  });

  it('the snapshot bucket: created by the operator, written and read back by an agent and the coordinator', async () => {
    expect(operator.snapshots).toBeDefined();
    const agentStore = await openAs('gk-agent-default');
    const coordinatorStore = await openAs('gk-coordinator');
    expect(agentStore.snapshots).toBeDefined();
    expect(coordinatorStore.snapshots).toBeDefined();
    const text = 'snapshot text '.repeat(100);
    await agentStore.snapshots!.blobs.write(`${cluster}.permissions-test`, text);
    expect(await coordinatorStore.snapshots!.blobs.read(`${cluster}.permissions-test`)).toBe(text);
    await coordinatorStore.snapshots!.blobs.write(`${cluster}.permissions-test`, `${text}!`);
    expect(await agentStore.snapshots!.blobs.read(`${cluster}.permissions-test`)).toBe(`${text}!`);
  });

  it('the coordinator identity can do its work: follow the log and answer its requests, changes with the admin token', async () => {
    const opened = await openAs('gk-coordinator');
    const token = 'coordinator-admin-token';
    const coordinator = await GraceCoordinator.start({ nc: opened.nc, store: opened.store, names, clusters: [cluster], cluster: { replica: 'auth' }, adminToken: token });
    closers.push(() => coordinator.close());
    const ask = async (body: object) => (await operator.nc.request(subjects.coordinatorRequests(names, cluster), JSON.stringify(body), { timeout: 5000 })).json<Record<string, unknown>>();
    expect(await ask({ op: 'status' })).toMatchObject({ ok: true, summary: { recoveryEpoch: 1 } });
    expect(await ask({ op: 'enforce', nodes: ['b'] })).toMatchObject({ ok: false, code: 'UNAUTHORIZED' });
    expect(await ask({ op: 'enforce', nodes: ['b'], token })).toMatchObject({ ok: true });
    await coordinator.close();
  });

  it('a forged GraceEnded from an unauthorised identity is refused by the server and changes no decision (I9)', async () => {
    const before = await operator.store.currentVersion(subjects.cluster(names, cluster));
    const forged = await forgedGraceEnd(operator.store);
    // The registry may publish audit facts, not grace decisions; an agent only on its own cluster.
    const registryJs = jetstream(await connectAs('gk-registry'), { timeout: 2000 });
    await expect(registryJs.publish(subjects.cluster(names, cluster), forged, { expect: { lastSubjectSequence: before } })).rejects.toThrow(/permission/i);
    const agentJs = jetstream(await connectAs('gk-agent-default'), { timeout: 2000 });
    await expect(agentJs.publish(subjects.cluster(names, 'prod'), forged)).rejects.toThrow(/permission/i);
    expect(await operator.store.currentVersion(subjects.cluster(names, cluster))).toBe(before);
    expect((await agent.core.service.handle({ op: 'may_grant' })).status).toBe('NFS4ERR_GRACE');
    expect((await loadCluster(operator.store, names, cluster)).state.recoveryEpoch).toBe(1);
  });

  it('a GraceEnded that bypasses the append protocol (no expectation) is stored but ignored by every reader (I9)', async () => {
    const subject = subjects.cluster(names, cluster);
    const forged = await forgedGraceEnd(operator.store);
    // The coordinator identity may publish there; a raw publish skips the expectation header.
    const coordinator = await connectAs('gk-coordinator');
    const ack = await jetstream(coordinator).publish(subject, forged);
    expect(await operator.store.currentVersion(subject)).toBe(ack.seq);
    const reread = await loadCluster(operator.store, names, cluster);
    expect(reread.state.recoveryEpoch).toBe(1);
    expect(reread.malformed.map((m) => m.error.kind)).toEqual(['stale-append']);
    await agent.core.view.catchUp();
    expect(agent.core.view.state.recoveryEpoch).toBe(1);
    expect((await agent.core.service.handle({ op: 'may_grant' })).status).toBe('NFS4ERR_GRACE');
    // Decisions go on after it: the agent's next append links to the forged message's sequence.
    expect((await agent.core.service.handle({ op: 'create', client: '0a0b' })).status).toBe('OK');
    const decoded = decisionCodec.decode(forged);
    if (!decoded.ok) throw new Error('the forged decision does not decode');
    await expect(operator.store.appendToStream(subject, decoded.value, { expectedVersion: 'any' })).rejects.toThrow(/only conditional appends/);
  });

  it('a node that is not a member is refused at grace_start, with the way to add it', async () => {
    const store = await openAs('gk-agent-default');
    const stranger = await startTestAgent({ natsUrl: server.url, names, cluster, node: 'c', store, autoJoin: false });
    closers.push(() => stranger.stop());
    const reply = await stranger.core.service.handle({ op: 'grace_start' } as AnyRequest);
    expect(reply).toMatchObject({ status: 'NFS4ERR_DELAY' });
    expect(reply.error).toMatch(/node c is not a member of cluster default: add it with `gracectl --cluster default add c`/);
    expect((await loadCluster(operator.store, names, cluster)).state.members.has('c')).toBe(false);
  });
});
