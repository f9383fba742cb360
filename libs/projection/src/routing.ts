import type { ClientId, DecisionMessage, GkEvent, NodeId, StreamNames } from '#contracts';
import type { MalformedMessage, StoredMessage } from '#event-store';
import type { ChangeSet } from './change-set';
import { applyClusterEvent } from './cluster-events';
import { clusterModel, type AuditRow, type ProjectionModel } from './projection-model';

/**
 * Routing of stored messages into the projection model: which aggregate a subject belongs to,
 * the audit row of every event, the outbox bookkeeping, and the checkpoint. What one cluster
 * event does to the model is cluster-events.ts.
 */

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
