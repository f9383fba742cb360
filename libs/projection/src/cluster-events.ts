import type { ClientId, GkEvent, NodeId } from '#contracts';
import { evolve, evolveWithEffects, type DroppedRecord, type EvolveEffect } from '#domain';
import type { ChangeSet } from './change-set';
import { explainStatus } from './explain';
import { invalidationMessages } from './invalidation';
import type { ClientExtras, ClusterModel, GracePeriodRow, OutboxItem } from './projection-model';

/** What applying a cluster event derived beyond the state: the audit detail and outbox messages. */
export interface Derived {
  detail?: unknown;
  outbox?: OutboxItem[];
}

/**
 * Applies one event of a cluster subject: `evolve` changes the state and reports what it did to
 * the records (restarts, drops), and this keeps the read model's extras in step. A record's row
 * is rewritten whenever the state changes it (tracked in `changes` when it tracks rows); its
 * extras change only for the records an event names (`last_sequence`) or drops (why and when).
 * Hot path of every replay: no per-client allocation beyond what the rows need, and effects are
 * asked for only of the events that have any.
 */
export function applyClusterEvent(cm: ClusterModel, e: GkEvent, sequence: number, changes: ChangeSet): Derived {
  const s = cm.state;
  const derived: Derived = {};
  const rBefore = s.recoveryEpoch;
  switch (e.type) {
    case 'ClientRecorded':
      evolve(s, e);
      for (const ref of e.clients) named(cm, e.node, ref.client, sequence, changes).invalidation = undefined;
      return derived;
    case 'ReclaimAccepted':
      evolve(s, e);
      period(cm, e.recoveryEpoch).reclaimsAccepted += e.clients.length;
      changes.touchPeriod(cm.cluster, e.recoveryEpoch);
      for (const client of e.clients) {
        const ex = named(cm, e.node, client, sequence, changes);
        ex.invalidation = undefined;
        ex.reclaimedEpoch = e.recoveryEpoch;
      }
      return derived;
    case 'ReclaimCompleted':
      evolve(s, e);
      if (rBefore !== 0) {
        period(cm, rBefore).completions += e.clients.length;
        changes.touchPeriod(cm.cluster, rBefore);
      }
      for (const client of e.clients) named(cm, e.node, client, sequence, changes);
      return derived;
    case 'ClientRemoved': {
      const effects = evolveWithEffects(s, e);
      for (const client of e.clients) named(cm, e.node, client, sequence, changes);
      projectEffects(cm, effects, e.time, sequence, changes);
      return derived;
    }
    case 'GraceStarted':
    case 'NodeJoinedGrace': {
      projectEffects(cm, evolveWithEffects(s, e), e.time, sequence, changes);
      if (e.type === 'GraceStarted') {
        cm.periods.set(e.recoveryEpoch, {
          recoveryEpoch: e.recoveryEpoch, startedAt: e.time, startedSequence: sequence, nodes: [...new Set(e.nodes)].sort(),
          reclaimsAccepted: 0, reclaimsRejected: 0, completions: 0, invalidated: 0,
        });
      } else {
        const p = period(cm, e.recoveryEpoch);
        if (!p.nodes.includes(e.node)) p.nodes = [...p.nodes, e.node].sort();
      }
      changes.touchPeriod(cm.cluster, e.recoveryEpoch);
      return derived;
    }
    case 'GraceEnded': {
      const lost = projectEffects(cm, evolveWithEffects(s, e), e.time, sequence, changes);
      let total = 0;
      const perNode: Record<string, number> = {};
      for (const [node, clients] of lost) {
        total += clients.length;
        perNode[node] = clients.length;
      }
      derived.outbox = invalidationMessages(cm.cluster, e, lost)
        .map((message) => ({ id: message.id, cluster: cm.cluster, afterSequence: sequence, message }));
      const p = period(cm, e.recoveryEpoch);
      Object.assign(p, { endedAt: e.time, endedSequence: sequence, reason: e.reason, abandonedNodes: [...e.abandonedNodes], invalidated: total });
      changes.touchPeriod(cm.cluster, e.recoveryEpoch);
      derived.detail = { invalidated: perNode, total };
      return derived;
    }
    case 'ReclaimRejected': {
      derived.detail = e.rejections.map((r) => ({ ...r, why: explainStatus(s, e.node, r.client, r.status, r.op) }));
      const reclaims = e.rejections.filter((r) => r.op === 'reclaim').length;
      if (rBefore !== 0 && reclaims > 0) {
        period(cm, rBefore).reclaimsRejected += reclaims;
        changes.touchPeriod(cm.cluster, rBefore);
      }
      evolve(s, e);
      return derived;
    }
    default:
      evolve(s, e);
      return derived;
  }
}

/**
 * Keeps the extras and rows in step with what evolve reported. Returns the records dropped, per
 * node in the order evolve reported them (sorted, for a grace end), as client ids.
 */
function projectEffects(cm: ClusterModel, effects: EvolveEffect[], at: string, sequence: number, changes: ChangeSet): Map<NodeId, ClientId[]> {
  const dropped = new Map<NodeId, ClientId[]>();
  for (const fx of effects) {
    switch (fx.type) {
      case 'NodeRestarted':
        for (const client of fx.moved.keys()) {
          const ex = extrasOf(cm, fx.node, client, sequence);
          // A restart inside the grace period forgets what the node's clients had reclaimed in it.
          if (ex.reclaimedEpoch === fx.recoveryEpoch) ex.reclaimedEpoch = undefined;
          changes.touchClient(cm.cluster, fx.node, client);
        }
        for (const client of fx.completedForgotten) changes.touchClient(cm.cluster, fx.node, client);
        break;
      case 'RecoveryClosed':
        // Every recovery record's row changes (reclaimed ones lose their epoch-R record).
        if (changes.trackRows) for (const client of fx.records.keys()) changes.touchClient(cm.cluster, fx.node, client);
        break;
      case 'RecordsDropped':
        for (const d of fx.records) invalidate(cm, fx.node, d, fx.reason, at, sequence, changes);
        dropped.set(fx.node, [...(dropped.get(fx.node) ?? []), ...fx.records.map((d) => d.client)]);
        break;
    }
  }
  return dropped;
}

/** A dropped record's row says when, why, and which record (its epoch) went. */
function invalidate(cm: ClusterModel, node: NodeId, d: DroppedRecord, reason: string, at: string, sequence: number, changes: ChangeSet): void {
  named(cm, node, d.client, sequence, changes).invalidation = { at, reason, epoch: d.epoch, sequence };
}

/** A record an event names or drops: its row is rewritten and remembers the event. */
function named(cm: ClusterModel, node: NodeId, client: ClientId, sequence: number, changes: ChangeSet): ClientExtras {
  const ex = extrasOf(cm, node, client, sequence);
  ex.lastSequence = sequence;
  changes.touchClient(cm.cluster, node, client);
  return ex;
}

function extrasOf(cm: ClusterModel, node: NodeId, client: ClientId, sequence: number): ClientExtras {
  let byClient = cm.extras.get(node);
  if (!byClient) cm.extras.set(node, (byClient = new Map()));
  let ex = byClient.get(client);
  // Every field present from the start: one object shape for all extras keeps the hot path monomorphic.
  if (!ex) byClient.set(client, (ex = { reclaimedEpoch: undefined, invalidation: undefined, lastSequence: sequence }));
  return ex;
}

function period(cm: ClusterModel, recoveryEpoch: number): GracePeriodRow {
  let p = cm.periods.get(recoveryEpoch);
  if (!p) {
    // A grace period whose start is not in the log (e.g. a log that begins mid-history).
    p = { recoveryEpoch, nodes: [], reclaimsAccepted: 0, reclaimsRejected: 0, completions: 0, invalidated: 0 };
    cm.periods.set(recoveryEpoch, p);
  }
  return p;
}
