import { DecisionMessage, GkEvent } from '#contracts';
import { Command, DecideResult, Rejection, Reply } from './commands';
import { decide } from './decide';
import { evolve } from './evolve';
import { seal } from './seal';
import { ClusterState, initialClusterState } from './state';

/**
 * A log with the same append rule as the JetStream store (expected last sequence), kept in memory: the deciders' tests and the model-based test run on it; the real
 * store's integration tests check that JetStream behaves the same way.
 */
export class InMemoryLog {
  readonly messages: DecisionMessage[] = [];
  private decisions = 0;

  constructor(readonly cluster = 'c1', private readonly clock: () => number = () => Date.now()) {}

  get version(): number {
    return this.messages.length;
  }

  get events(): GkEvent[] {
    return this.messages.flatMap((m) => m.events);
  }

  load(trackedNodes?: string[]): { state: ClusterState; version: number } {
    const state = initialClusterState({ trackedNodes });
    for (const m of this.messages) for (const e of m.events) evolve(state, e);
    return { state, version: this.version };
  }

  /** Appends a sealed decision only if nothing was appended since `expected` (or with 'any'). */
  append(message: DecisionMessage, expected: number | 'any'): { ok: true; sequence: number; duplicate?: boolean } | { ok: false; conflict: true } {
    // Like JetStream's duplicate window: a retried msgID is acknowledged, not stored twice.
    const earlier = this.messages.findIndex((m) => m.id === message.id);
    if (earlier >= 0) return { ok: true, sequence: earlier + 1, duplicate: true };
    if (expected !== 'any' && expected !== this.version) return { ok: false, conflict: true };
    this.messages.push(message);
    return { ok: true, sequence: this.version };
  }

  /** decide → append → on conflict reload and decide again: the loop every shell runs. */
  execute(command: Command, actor = 'test', decider: (c: Command, s: ClusterState) => DecideResult = decide):
    { ok: true; reply: Reply; events: GkEvent[] } | { ok: false; rejection: Rejection } {
    for (;;) {
      const { state, version } = this.load();
      const result = decider(command, state);
      if (!result.ok) return result;
      const { events, reply } = result.decision;
      if (events.length === 0) return { ok: true, reply, events: [] };
      const message = seal(state, events, { cluster: this.cluster, decisionId: `d${++this.decisions}`, actor, time: new Date(this.clock()) });
      if (this.append(message, version).ok) return { ok: true, reply, events: message.events };
    }
  }
}
