/**
 * Failover through the agents on real NATS (SPEC §2 identities, I8): an identity moved to another
 * host is served there once its NFS server starts serving it, the old host's agent is fenced, and
 * failback is the same in the other direction.
 */
import { executeOnce } from '#cluster-store';
import type { AdminCommand } from '#domain';
import type { AgentClient } from '#agent-client';
import { agentsOnNats } from '../test/agents-on-nats';

jest.setTimeout(60_000);
const bed = agentsOnNats('agentfailover');

async function agent(cluster: string, node: string, identities?: string[]): Promise<AgentClient> {
  return (await bed.agent(cluster, node, identities)).c;
}

async function operator(cluster: string, command: AdminCommand) {
  const r = await executeOnce(bed.opened.store, bed.names, cluster, command, { actor: 'gracectl:test' });
  if (!r.ok) throw new Error(`${command.type}: ${r.rejection.code} ${r.rejection.message}`);
}

const X = '0b01';
const Y = '0a01';

describe('node-agent: failover and failback', () => {
  it("b moves to host a: b's clients reclaim through a only; b's agent is fenced until b fails back and its server starts again", async () => {
    const A = await agent('fo', 'a', ['a', 'b']);
    const B = await agent('fo', 'b');
    await operator('fo', { type: 'add', nodes: ['a', 'b'] });
    expect(await A.send({ op: 'create', client: Y, hasSession: true })).toMatchObject({ status: 'OK' });
    expect(await B.send({ op: 'create', client: X, hasSession: true })).toMatchObject({ status: 'OK' });
    // Host a does not serve b yet: the log places b on b.
    expect(await A.send({ op: 'create', identity: 'b', client: X })).toMatchObject({ status: 'NFS4ERR_DELAY', fenced: true });
    expect(await A.send({ op: 'reclaim', identity: 'nobody', client: X })).toMatchObject({ status: 'ERR_BAD_REQUEST', error: 'identity nobody is not served by this agent (it serves a, b)' });

    await operator('fo', { type: 'move', identity: 'b', host: 'a' });
    // The old host (its view may still be behind): every write for b is refused, never a success.
    expect(await B.send({ op: 'reclaim', client: X })).toMatchObject({ status: 'NFS4ERR_DELAY', fenced: true });
    expect(await B.send({ op: 'create', client: '0b02' })).toMatchObject({ status: 'NFS4ERR_DELAY', fenced: true });
    expect(await B.send({ op: 'grace_start' })).toMatchObject({ status: 'NFS4ERR_DELAY', fenced: true });
    expect(await B.send({ op: 'grace_done', wait: false })).toMatchObject({ status: 'NFS4ERR_DELAY', fenced: true });

    // b's NFS server starts on host a (it took over b's address): b's clients reclaim there.
    expect(await A.send({ op: 'grace_start', identity: 'b' })).toMatchObject({ status: 'OK', recoveryEpoch: 1, reclaimable: 1 });
    expect(await A.send({ op: 'may_grant' })).toMatchObject({ status: 'NFS4ERR_GRACE' });
    expect(await A.send({ op: 'check', client: Y })).toMatchObject({ status: 'OK' });
    expect(await A.send({ op: 'reclaim', identity: 'b', client: X })).toMatchObject({ status: 'OK' });
    expect(await A.send({ op: 'reclaim_complete', identity: 'b', client: X, hasSession: true })).toMatchObject({ status: 'OK' });
    expect(await A.send({ op: 'grace_done', identity: 'b' })).toMatchObject({ status: 'OK', ended: true, recoveryEpoch: 0 });
    expect(await A.send({ op: 'may_grant' })).toMatchObject({ status: 'OK' });
    expect(await A.send({ op: 'status', identity: 'b' })).toMatchObject({
      node: 'b', host: 'a', grace: { placements: [{ node: 'b', host: 'a', generation: 1 }] },
    });

    // Failback: b's server comes back on host b and starts; host a is fenced for b from now on.
    await operator('fo', { type: 'move', identity: 'b', host: 'b' });
    expect(await A.send({ op: 'reclaim', identity: 'b', client: X })).toMatchObject({ status: 'NFS4ERR_DELAY', fenced: true });
    expect(await B.send({ op: 'reclaim', client: X })).toMatchObject({ status: 'NFS4ERR_DELAY', fenced: true });
    expect(await B.send({ op: 'grace_start' })).toMatchObject({ status: 'OK', recoveryEpoch: 2, reclaimable: 1 });
    expect(await B.send({ op: 'reclaim', client: X })).toMatchObject({ status: 'OK' });
    expect(await B.send({ op: 'hello' })).toMatchObject({ node: 'b', host: 'b', recoveryEpoch: 2 });
  });
});
