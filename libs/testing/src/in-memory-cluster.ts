import { decodeDecision, DecisionMessage, GkEvent, streamNames, subjects } from '#contracts';
import { InMemoryEventStore } from '#event-store';
import type { Command } from '#domain';
import { executeOnce, loadCluster, type CommandResult, type Decider } from '#cluster-store';

/**
 * One cluster aggregate over the in-memory event store, executed by the same command handler the
 * services run (`executeOnce`: load, decide, seal, append with the expected version). For the
 * deciders' example tests and the simulator checker's tests; production code never imports it.
 */
export class InMemoryCluster {
  readonly store = new InMemoryEventStore<DecisionMessage>({ idOf: (m) => m.id, decode: decodeDecision, clock: () => this.clock() });
  readonly names = streamNames('mem');
  readonly subject: string;

  constructor(readonly cluster = 'c1', private readonly clock: () => number = () => Date.now()) {
    this.subject = subjects.cluster(this.names, cluster);
  }

  execute(command: Command, actor = 'test', decide?: Decider): Promise<CommandResult> {
    return executeOnce(this.store, this.names, this.cluster, command, { actor, now: this.clock }, { decide });
  }

  /** `execute`, and a rejection is a thrown error naming the command (for set-up steps that must succeed). */
  async executeOk(command: Command, actor = 'test'): Promise<Extract<CommandResult, { ok: true }>> {
    const r = await this.execute(command, actor);
    if (!r.ok) throw new Error(`${command.type} rejected: ${r.rejection.code} ${r.rejection.message}`);
    return r;
  }

  load(trackedNodes?: string[]) {
    return loadCluster(this.store, this.names, this.cluster, { trackedNodes });
  }

  version(): Promise<number> {
    return this.store.currentVersion(this.subject);
  }

  async messages(): Promise<DecisionMessage[]> {
    return (await this.store.readStream(this.subject)).messages.map((m) => m.message);
  }

  async events(): Promise<GkEvent[]> {
    return (await this.messages()).flatMap((m) => m.events);
  }
}
