import { StreamNames } from '#contracts';
import { GraceEventStore, GroupCommitter, LiveClusterView } from '#cluster-store';
import { checkClient, reclaimableClients, summarize } from '#domain';
import type { AgentApi, AgentReply } from './agent-client';

/**
 * The JSON socket API of SPEC §4.1 answered in-process from a `LiveClusterView` and a
 * `GroupCommitter`, for the simulator's own tests and for fast randomized runs. It is not the
 * node-agent (apps/node-agent is, and the scenario suite talks to it over its socket): it holds no
 * rules of its own, only the mapping of ops onto the shared deciders, so the simulator can run
 * without spawning processes.
 */
export class ReferenceAgent implements AgentApi {
  private readonly committer: GroupCommitter;
  private readonly graceWaiters = new Set<() => void>();
  private closed = false;

  private constructor(readonly cluster: string, readonly node: string, readonly view: LiveClusterView, private readonly clock: () => number) {
    this.committer = new GroupCommitter(view);
  }

  static async open(store: GraceEventStore, names: StreamNames, cluster: string, node: string, clock: () => number = Date.now): Promise<ReferenceAgent> {
    let agent: ReferenceAgent | undefined;
    const view = await LiveClusterView.open(store, names, cluster, {
      trackedNodes: [node],
      onApplied: () => agent?.wakeGraceWaiters(),
    });
    agent = new ReferenceAgent(cluster, node, view, clock);
    return agent;
  }

  async request(op: string, fields: Record<string, unknown> = {}): Promise<AgentReply> {
    if (this.closed) throw new Error('reference agent closed');
    const actor = this.node;
    const client = typeof fields.client === 'string' ? fields.client : undefined;
    const s = () => this.view.state;
    switch (op) {
      case 'hello':
        return { status: 'OK', cluster: this.cluster, node: this.node, epoch: s().epoch, recoveryEpoch: s().recoveryEpoch, inGrace: s().recoveryEpoch !== 0 };
      case 'grace_start': {
        const r = await this.view.execute({ type: 'start', nodes: [this.node] }, { actor });
        if (!r.ok) return { status: 'ERR_REJECTED', error: r.rejection.message };
        return { status: 'OK', epoch: s().epoch, recoveryEpoch: s().recoveryEpoch, reclaimable: reclaimableClients(s(), this.node).length };
      }
      case 'create': {
        const ref = { client: client!, ...(fields.hasSession !== undefined ? { hasSession: fields.hasSession as boolean } : {}) };
        const r = await this.committer.submit({ type: 'create', node: this.node, clients: [ref] }, { actor });
        return r.ok ? { status: 'OK' } : { status: 'ERR_REJECTED', error: r.rejection.message };
      }
      case 'remove': {
        const r = await this.committer.submit({ type: 'removeClients', node: this.node, clients: [client!] }, { actor });
        return r.ok ? { status: 'OK' } : { status: 'ERR_REJECTED', error: r.rejection.message };
      }
      case 'check':
        await this.view.catchUp();
        return { status: checkClient(s(), this.node, client!) };
      case 'reclaim':
      case 'reclaim_complete': {
        const type = op === 'reclaim' ? 'reclaim' : 'reclaimComplete';
        const r = await this.committer.submit({ type, node: this.node, clients: [client!] }, { actor });
        if (!r.ok) return { status: 'ERR_REJECTED', error: r.rejection.message };
        const reply = r.reply;
        return { status: reply.kind === 'reclaim' || reply.kind === 'reclaimComplete' ? reply.statuses[0] : 'ERR_INTERNAL' };
      }
      case 'may_grant': {
        const r = await this.view.execute({ type: 'mayGrant', node: this.node, now: this.clock() }, { actor });
        if (!r.ok) return { status: 'NFS4ERR_GRACE', error: r.rejection.message };
        const reply = r.decision.reply;
        return reply.kind === 'mayGrant' ? { status: reply.status, endsGrace: reply.endsGrace } : { status: 'ERR_INTERNAL' };
      }
      case 'grace_done': {
        const r = await this.view.execute({ type: 'lift', nodes: [this.node] }, { actor });
        if (!r.ok) return { status: 'ERR_REJECTED', error: r.rejection.message };
        if (fields.wait === false) return { status: 'OK', ended: s().recoveryEpoch === 0 };
        await this.untilGraceEnded();
        return { status: 'OK', ended: true };
      }
      case 'status':
        return { status: 'OK', ...summarize(s()) };
      default:
        return { status: 'ERR_BAD_REQUEST', error: `unknown op ${op}` };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.graceWaiters) wake();
    await this.view.close();
  }

  private untilGraceEnded(): Promise<void> {
    if (this.view.state.recoveryEpoch === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        if (this.view.state.recoveryEpoch !== 0 && !this.closed) return;
        this.graceWaiters.delete(wake);
        resolve();
      };
      this.graceWaiters.add(wake);
    });
  }

  private wakeGraceWaiters(): void {
    for (const wake of [...this.graceWaiters]) wake();
  }
}
