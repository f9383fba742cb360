import type { ClientId, DecisionMessage, GkEvent, NodeId, StreamNames } from '#contracts';
import { evolve, initialClusterState, type ClusterState } from '#domain';
import type { MalformedMessage, StoredMessage } from '#event-store';
import { explainStatus } from './explain';
import { invalidationMessages, unreclaimedRecords } from './invalidation';

/**
 * The projector's in-memory model: per cluster the state `evolve` builds (the rules' own view, so
 * the read model cannot drift from the domain), plus what the read model keeps beyond it (when
 * and why a record was dropped, grace-period history, the outbox). Rows are derived from it; the
 * model itself can be rebuilt from the rows (loader.ts), which is how a projector resumes.
 */
export interface ProjectionModel {
  clusters: Map<string, ClusterModel>;
  /** Invalidation messages derived from a GraceEnded and not yet seen back in the stream. */
  outbox: Map<string, OutboxItem>;
  /** Last stream sequence applied (a message at or below it is a redelivery and a no-op). */
  position: number;
  messages: number;
  events: number;
  malformed: number;
}

export interface ClusterModel {
  cluster: string;
  state: ClusterState;
  /** node → client → what the read model keeps about that record besides the state. */
  extras: Map<NodeId, Map<ClientId, ClientExtras>>;
  periods: Map<number, GracePeriodRow>;
  lastSequence: number;
}

export interface Invalidation {
  /** Event time of the event that dropped the record. */
  at: string;
  /** The grace end reason, or `removed` (and `restarted`, should a restart ever drop a record). */
  reason: string;
  /** The epoch of the record that was dropped. */
  epoch: number;
  sequence: number;
}

export interface ClientExtras {
  /** The grace period (R) in which the client last reclaimed. */
  reclaimedEpoch?: number;
  invalidation?: Invalidation;
  lastSequence: number;
}

export interface GracePeriodRow {
  recoveryEpoch: number;
  startedAt?: string;
  startedSequence?: number;
  nodes: NodeId[];
  endedAt?: string;
  endedSequence?: number;
  reason?: string;
  abandonedNodes?: NodeId[];
  reclaimsAccepted: number;
  reclaimsRejected: number;
  completions: number;
  invalidated: number;
}

export interface OutboxItem {
  id: string;
  cluster: string;
  /** The GraceEnded's stream sequence: a published copy can only be after it. */
  afterSequence: number;
  message: DecisionMessage;
}

/** An audit row: the event and where it is; the nodes and clients it names are read off the event when rendered. */
export interface AuditRow {
  sequence: number;
  idx: number;
  event: GkEvent;
  messageId: string;
  subject: string;
  cluster: string;
  detail?: unknown;
}

export interface MalformedRow {
  sequence: number;
  subject: string;
  kind: string;
  error: string;
  raw: Uint8Array;
}

/** What changed since the last write: the rows to rewrite, and the rows to append. */
export class ChangeSet {
  /** Whether to collect the per-client rows to rewrite (a bulk rebuild writes them all at the end). */
  readonly trackRows: boolean;
  /** Keep only the audit rows only the model can render (a reader thread renders the others). */
  readonly modelAuditOnly: boolean;
  messages = 0;
  events = 0;
  malformed = 0;
  lastSequence = 0;
  readonly audit: AuditRow[] = [];
  readonly malformedRows: MalformedRow[] = [];
  readonly clusters = new Set<string>();
  /** cluster → node → clients whose row must be rewritten. */
  readonly clients = new Map<string, Map<NodeId, Set<ClientId>>>();
  /** cluster → recovery epochs whose grace-period row must be rewritten. */
  readonly periods = new Map<string, Set<number>>();
  readonly outboxAdded = new Map<string, OutboxItem>();
  readonly outboxRemoved = new Set<string>();

  constructor(options: { trackRows?: boolean; modelAuditOnly?: boolean } = {}) {
    this.trackRows = options.trackRows ?? true;
    this.modelAuditOnly = options.modelAuditOnly ?? false;
  }

  get empty(): boolean {
    return this.lastSequence === 0;
  }

  touchClient(cluster: string, node: NodeId, client: ClientId): void {
    if (!this.trackRows) return;
    let byNode = this.clients.get(cluster);
    if (!byNode) this.clients.set(cluster, (byNode = new Map()));
    let set = byNode.get(node);
    if (!set) byNode.set(node, (set = new Set()));
    set.add(client);
  }

  touchPeriod(cluster: string, recoveryEpoch: number): void {
    let set = this.periods.get(cluster);
    if (!set) this.periods.set(cluster, (set = new Set()));
    set.add(recoveryEpoch);
  }
}

export function emptyModel(): ProjectionModel {
  return { clusters: new Map(), outbox: new Map(), position: 0, messages: 0, events: 0, malformed: 0 };
}

export function clusterModel(model: ProjectionModel, cluster: string): ClusterModel {
  let m = model.clusters.get(cluster);
  if (!m) {
    m = { cluster, state: initialClusterState(), extras: new Map(), periods: new Map(), lastSequence: 0 };
    model.clusters.set(cluster, m);
  }
  return m;
}

export type SubjectKind = 'cluster' | 'registry';

/** Which aggregate a stream subject belongs to, or undefined for a subject the registry does not project. */
export function parseSubject(names: StreamNames, subject: string): { kind: SubjectKind; cluster: string } | undefined {
  const m = /^([^.]+)\.(cluster|registry)\.([^.]+)$/.exec(subject);
  if (!m || m[1] !== names.prefix) return undefined;
  return { kind: m[2] as SubjectKind, cluster: m[3]! };
}

/**
 * Applies one stored message to the model and records what changed. A message at or below the
 * model's position is a redelivery: nothing happens and false is returned.
 *
 * Messages are keyed by their subject's cluster, as every live view keys them: the state of
 * cluster X is what the events on X's subject make of it. Registry messages (the
 * ClientRecordsInvalidated the registry itself published) are audit facts: recorded, and they
 * settle the outbox, but they change no state.
 */
export function applyMessage(model: ProjectionModel, names: StreamNames, stored: StoredMessage<DecisionMessage>, changes: ChangeSet): boolean {
  if (stored.sequence <= model.position) return false;
  const where = parseSubject(names, stored.subject);
  if (!where) {
    return applyMalformed(model, {
      sequence: stored.sequence,
      subject: stored.subject,
      error: { kind: 'unknown-subject', message: `subject ${stored.subject} is neither a cluster nor a registry subject` },
      raw: new TextEncoder().encode(JSON.stringify(stored.message)),
    }, changes);
  }
  const cm = where.kind === 'cluster' ? clusterModel(model, where.cluster) : undefined;
  const message = stored.message;
  message.events.forEach((event, idx) => {
    const derived = cm ? applyClusterEvent(cm, event, stored.sequence, changes) : {};
    if (!changes.modelAuditOnly || derived.detail !== undefined) changes.audit.push(auditRow(stored, where.cluster, event, idx, derived.detail));
    for (const item of derived.outbox ?? []) {
      model.outbox.set(item.id, item);
      changes.outboxAdded.set(item.id, item);
      changes.outboxRemoved.delete(item.id);
    }
  });
  if (where.kind === 'registry' && model.outbox.delete(message.id)) {
    changes.outboxRemoved.add(message.id);
    changes.outboxAdded.delete(message.id);
  }
  if (cm) {
    cm.lastSequence = stored.sequence;
    changes.clusters.add(where.cluster);
  }
  model.position = stored.sequence;
  model.messages += 1;
  model.events += message.events.length;
  changes.messages += 1;
  changes.events += message.events.length;
  changes.lastSequence = stored.sequence;
  return true;
}

/** A message that could not be decoded still moves the checkpoint: it is recorded, then skipped. */
export function applyMalformed(model: ProjectionModel, m: MalformedMessage, changes: ChangeSet): boolean {
  if (m.sequence <= model.position) return false;
  changes.malformedRows.push({ sequence: m.sequence, subject: m.subject, kind: m.error.kind, error: m.error.message, raw: m.raw });
  model.position = m.sequence;
  model.malformed += 1;
  changes.malformed += 1;
  changes.lastSequence = m.sequence;
  return true;
}

function auditRow(stored: StoredMessage<DecisionMessage>, cluster: string, event: GkEvent, idx: number, detail: unknown): AuditRow {
  const row: AuditRow = { sequence: stored.sequence, idx, event, messageId: stored.message.id, subject: stored.subject, cluster };
  if (detail !== undefined) row.detail = detail;
  return row;
}

/** The nodes (besides `node`) and clients an event names, for audit lookups. */
export function referencesOf(e: GkEvent): { nodes?: NodeId[]; clients?: ClientId[] } {
  switch (e.type) {
    case 'GraceStarted': return { nodes: e.nodes };
    case 'GraceEnded': return e.abandonedNodes.length ? { nodes: e.abandonedNodes } : {};
    case 'ClientRecorded': return { clients: e.clients.map((c) => c.client) };
    case 'ClientRemoved':
    case 'ReclaimAccepted':
    case 'ReclaimCompleted':
    case 'ClientRecordsInvalidated':
      return { clients: e.clients };
    case 'ReclaimRejected': return { clients: e.rejections.map((r) => r.client) };
    default: return {};
  }
}

/** What applying a cluster event derived beyond the state: the audit detail and outbox messages. */
interface Derived {
  detail?: unknown;
  outbox?: OutboxItem[];
}

/**
 * Applies one event of a cluster subject: `evolve` changes the state, and this keeps the read
 * model's extras in step. A record's row is rewritten whenever the state changes it (tracked in
 * `changes` when it tracks rows); its extras change only for the records an event names
 * (`last_sequence`) or drops (why and when). Hot path of every replay: no per-client allocation
 * beyond what the rows need.
 */
function applyClusterEvent(cm: ClusterModel, e: GkEvent, sequence: number, changes: ChangeSet): Derived {
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
      const r = s.records.get(e.node);
      const epochs = e.clients.map((c) => (r?.current.get(c) ?? r?.recovery?.get(c))?.epoch);
      evolve(s, e);
      e.clients.forEach((client, i) => {
        const ex = named(cm, e.node, client, sequence, changes);
        const epoch = epochs[i];
        if (epoch !== undefined) ex.invalidation = { at: e.time, reason: 'removed', epoch, sequence };
      });
      return derived;
    }
    case 'GraceStarted':
    case 'NodeJoinedGrace': {
      const nodes = e.type === 'GraceStarted' ? [...new Set(e.nodes)] : [e.node];
      // evolve replaces `current` and `completed` with new collections: the old ones stay readable.
      const before = nodes.map((node) => ({ node, current: s.records.get(node)?.current, completed: s.records.get(node)?.completed }));
      evolve(s, e);
      for (const { node, current, completed } of before) {
        if (!current || !completed) continue;
        for (const [client, rec] of current) {
          const ex = extrasOf(cm, node, client, sequence);
          // A restart inside the grace period forgets what the node's clients had reclaimed in it.
          if (ex.reclaimedEpoch === e.recoveryEpoch) ex.reclaimedEpoch = undefined;
          // The domain keeps every record through a restart (to recovery, or in C when written
          // fresh in this grace period); should a rule ever drop one, the row says so.
          if (!isValid(s, node, client)) {
            ex.lastSequence = sequence;
            ex.invalidation = { at: e.time, reason: 'restarted', epoch: rec.epoch, sequence };
          }
          changes.touchClient(cm.cluster, node, client);
        }
        for (const client of completed) changes.touchClient(cm.cluster, node, client);
      }
      if (e.type === 'GraceStarted') {
        cm.periods.set(e.recoveryEpoch, {
          recoveryEpoch: e.recoveryEpoch, startedAt: e.time, startedSequence: sequence, nodes: [...nodes].sort(),
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
      const lost = unreclaimedRecords(s);
      const epochs = new Map<NodeId, number[]>();
      for (const [node, clients] of lost) {
        const recovery = s.records.get(node)!.recovery!;
        epochs.set(node, clients.map((c) => recovery.get(c)!.epoch));
      }
      if (changes.trackRows) {
        // Every recovery record's row changes (reclaimed ones lose their epoch-R record).
        for (const [node, r] of s.records) if (r.recovery) for (const client of r.recovery.keys()) changes.touchClient(cm.cluster, node, client);
      }
      evolve(s, e);
      let total = 0;
      const perNode: Record<string, number> = {};
      for (const [node, clients] of lost) {
        total += clients.length;
        perNode[node] = clients.length;
        const nodeEpochs = epochs.get(node)!;
        clients.forEach((client, i) => {
          const ex = named(cm, node, client, sequence, changes);
          ex.invalidation = { at: e.time, reason: e.reason, epoch: nodeEpochs[i]!, sequence };
        });
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

/** A record an event names or drops: its row is rewritten and remembers the event. */
function named(cm: ClusterModel, node: NodeId, client: ClientId, sequence: number, changes: ChangeSet): ClientExtras {
  const ex = extrasOf(cm, node, client, sequence);
  ex.lastSequence = sequence;
  changes.touchClient(cm.cluster, node, client);
  return ex;
}

export function isValid(s: ClusterState, node: NodeId, client: ClientId): boolean {
  const r = s.records.get(node);
  return !!r && (r.current.has(client) || !!r.recovery?.has(client));
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
