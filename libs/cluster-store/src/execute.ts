import { randomUUID } from 'node:crypto';
import { DecisionMessage, EventBody, GkEvent, validateDecision } from '#contracts';
import { Command, decide, Decision, Rejection, seal } from '#domain';
import type { ClusterState } from '#domain';

export interface ExecuteMeta {
  actor: string;
  causation?: string;
  /** The clock used to stamp events; deciders never read it (I7). */
  now?: () => number;
}

export type Executed =
  | { ok: true; decision: Decision; events: GkEvent[]; sequence: number | null }
  | { ok: false; rejection: Rejection };

/**
 * decide on a state, then seal the events into one message validated on write. Returns the
 * message to append (null for a decision with nothing to store).
 */
export function decideAndSeal(command: Command, state: ClusterState, cluster: string, meta: ExecuteMeta) {
  const result = decide(command, state);
  if (!result.ok) return { ok: false as const, rejection: result.rejection };
  const { decision } = result;
  return { ok: true as const, decision, message: sealValid(state, decision.events, cluster, meta) };
}

/** Seals events into one message, validated on write; null when there is nothing to store. */
export function sealValid(state: ClusterState, events: EventBody[], cluster: string, meta: ExecuteMeta): DecisionMessage | null {
  if (events.length === 0) return null;
  const message = seal(state, events, {
    cluster,
    decisionId: randomUUID(),
    actor: meta.actor,
    causation: meta.causation,
    time: new Date((meta.now ?? Date.now)()),
  });
  const valid = validateDecision(message);
  if (!valid.ok) throw new Error(`refusing to append an invalid decision: ${valid.error.message}`);
  return message;
}
