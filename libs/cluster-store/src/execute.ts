import { randomUUID } from 'node:crypto';
import { DecisionMessage, EventBody, GkEvent, validateDecision } from '#contracts';
import { ConcurrencyConflict, EventStore, handleCommand, StateSource } from '#event-store';
import { Command, decide, Outcome, Rejection, Reply, seal } from '#domain';
import type { ClusterState } from '#domain';

/** Any event store holding Gracekeeper decisions: JetStream in services, in memory in the domain's tests. */
export type ClusterEventStore = EventStore<DecisionMessage>;

export interface ExecuteMeta {
  actor: string;
  causation?: string;
  /** The clock used to stamp events; deciders never read it (I7). */
  now?: () => number;
}

/**
 * What executing one command gave: the reply and the events stored for it (those of the whole
 * decision when several commands were stored together), at stream `sequence` (null: nothing was
 * appended), or the decider's rejection.
 */
export type CommandResult =
  | { ok: true; reply: Reply; events: GkEvent[]; sequence: number | null }
  | { ok: false; rejection: Rejection };

/** A decider: the domain's `decide`, or a seeded-bug variant in the model test. */
export type Decider = (command: Command, state: ClusterState) => Outcome;

export interface ExecuteOptions {
  /** Attempts before ContentionExhausted. */
  maxAttempts: number;
  /** Pause between attempts after a lost race (0: none, a live view waits for the winner instead). */
  maxBackoffMs?: number;
  /** Default: the domain's `decide`. */
  decide?: Decider;
  onConflict?: (conflict: ConcurrencyConflict, attempt: number) => void;
  /** Wait for the store's verdict on an offered decision instead of failing (see handleCommand). */
  untilKnown?: boolean;
}

/**
 * The cluster aggregate's command handler: decides `commands` on the same state from `source`,
 * seals all their events into one decision (one message, one expected version), appends it through
 * the one command loop (`handleCommand`) and answers each command. Only for commands that do not
 * depend on each other (the group committer guarantees it); usually there is just one.
 */
export async function executeCommands(
  store: ClusterEventStore,
  subject: string,
  cluster: string,
  source: StateSource<ClusterState>,
  commands: Command[],
  meta: ExecuteMeta,
  options: ExecuteOptions,
): Promise<CommandResult[]> {
  const decider = options.decide ?? decide;
  const handled = await handleCommand({
    store,
    subject,
    source,
    maxAttempts: options.maxAttempts,
    maxBackoffMs: options.maxBackoffMs,
    onConflict: options.onConflict,
    untilKnown: options.untilKnown,
    decide: (state) => {
      const outcomes = commands.map((c) => decider(c, state));
      const events = outcomes.flatMap((o) => (o.ok ? o.decision.events : []));
      return {
        message: sealValid(state, events, cluster, meta),
        outcome: outcomes,
        needsCurrentState: outcomes.some((o) => o.ok && o.decision.needsFreshView),
      };
    },
  });
  const stored = handled.message?.events ?? [];
  return handled.outcome.map((o): CommandResult => (o.ok ? { ok: true, reply: o.decision.reply, events: stored, sequence: handled.sequence } : o));
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
