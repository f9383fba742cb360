import type { ByteRange, LockType } from './dlm';
import type { Ticker } from './clock';

/**
 * Everything the simulated clients and servers saw, in the order they saw it (ticks). The checker
 * judges a run from this and from the event log, never from the simulator's internal state.
 *
 * A client's belief in a lock is a *lineage*: it starts when a LOCK is granted and is carried
 * across server restarts by reclaims. When the client loses contact with its server (the server
 * crashed or the network is cut) its belief becomes tentative: a later successful renewal or
 * reclaim asserts that it held the lock without a break (so the whole gap counts as held), while
 * learning that the lock is gone ends the belief at the moment contact was lost.
 */
export type Observation =
  | { kind: 'reply'; tick: number; sentTick: number; client: string; server: string; op: ClientOp; reclaim: boolean; status: string; lineage?: number }
  | { kind: 'lineage-start'; tick: number; lineage: number; client: string; file: string; type: LockType; range: ByteRange }
  | { kind: 'contact-lost'; tick: number; client: string }
  /** A renewal succeeded after contact was lost: these lineages were kept by the server all along. */
  | { kind: 'confirmed'; tick: number; client: string; lineages: number[] }
  | { kind: 'lineage-reclaimed'; tick: number; lineage: number }
  | { kind: 'lineage-lost'; tick: number; lineage: number; why: string }
  | { kind: 'lineage-released'; tick: number; lineage: number }
  /** A server was told by its agent that it may grant non-reclaim state (`may_grant` OK). */
  | { kind: 'grant-allowed'; tick: number; server: string; sentTick: number }
  /** A server's `grace_start` was answered: it is in (or joined) grace period `recoveryEpoch`. */
  | { kind: 'grace-start'; tick: number; server: string; epoch: number; recoveryEpoch: number; reclaimable: number }
  /** A server's `grace_done` returned: the cluster's grace is over as far as it knows. */
  | { kind: 'grace-done'; tick: number; server: string }
  /** Agent replies as the servers received them (statuses per op are checked against SPEC §4.1). */
  | { kind: 'agent-reply'; tick: number; sentTick: number; server: string; op: string; client?: string; status: string;
    /** The host whose agent answered, when it is not the server identity's own-name host (failover). */
    host?: string;
    /** The agent refused because its host does not serve the identity (I8): "retry later". */
    fenced?: boolean }
  | { kind: 'fault'; tick: number; what: string };

/** An observation before it is stamped with its tick (distributes over the union). */
export type ObservationInput = Observation extends infer O ? (O extends Observation ? Omit<O, 'tick'> & { tick?: number } : never) : never;

export type ClientOp = 'setclientid' | 'renew' | 'open' | 'lock' | 'unlock' | 'reclaim_complete';

export class Observations {
  readonly list: Observation[] = [];
  private lineages = 0;

  constructor(readonly ticker: Ticker) {}

  record(o: ObservationInput): Observation {
    const full = { ...o, tick: o.tick ?? this.ticker.next() } as Observation;
    this.list.push(full);
    return full;
  }

  newLineage(): number {
    return ++this.lineages;
  }

  fault(what: string): void {
    this.record({ kind: 'fault', what });
  }

  of<K extends Observation['kind']>(kind: K): Extract<Observation, { kind: K }>[] {
    return this.list.filter((o): o is Extract<Observation, { kind: K }> => o.kind === kind);
  }

  /** A readable tail, for failure messages. */
  tail(n = 60): string {
    return this.list.slice(-n).map((o) => JSON.stringify(o)).join('\n');
  }
}
