import { JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';
import { clusterOfSubject, subjects, type StreamNames } from '#contracts';
import { fromGet, MIN_RETAINED_DECISIONS, nextBySubject, TruncatedHistory } from '#event-store';
import type { ClusterEventStore } from './execute';
import { loadSnapshot, Snapshots } from './snapshots';

/**
 * History retention: the full log is the default (audits read it). An operator may keep only the
 * last N decisions of each cluster (the stream's max_msgs_per_subject) once (1) every cluster has
 * a trusted whole-cluster snapshot, so that no start needs what is dropped, (2) N is at least
 * MIN_RETAINED_DECISIONS (ten periods of the default snapshot policy: a snapshot always lands well
 * inside what is kept), and (3) the operator states that the client-registry's PostgreSQL audit
 * model holds the audits of what is dropped. Anything else is refused with the reason.
 */
export interface RetentionRequest {
  keep: number;
  auditModelCovers: boolean;
}

/** Why a retention may not be set now (undefined: it may). */
export function retentionRefusal(
  request: RetentionRequest,
  clusters: { cluster: string; hasTrustedSnapshot: boolean }[],
  snapshotsEnabled: boolean,
): string | undefined {
  if (!Number.isSafeInteger(request.keep) || request.keep < MIN_RETAINED_DECISIONS) {
    return `keeping ${request.keep} decisions per cluster is below the minimum of ${MIN_RETAINED_DECISIONS}`;
  }
  if (!snapshotsEnabled) return 'snapshots are off (GK_SNAPSHOTS=off) or their bucket is unreachable: every start would need the whole log';
  const uncovered = clusters.filter((c) => !c.hasTrustedSnapshot).map((c) => c.cluster);
  if (uncovered.length) return `no trusted whole-cluster snapshot yet for ${uncovered.join(', ')} (run a grace-coordinator for them, then retry)`;
  if (!request.auditModelCovers) return 'audits of dropped history then come only from the client-registry\'s PostgreSQL read model: confirm with --audit-model-covers';
  return undefined;
}

/** The clusters with a subject on the stream. */
async function clustersOnStream(jsm: JetStreamManager, names: StreamNames): Promise<string[]> {
  const info = await jsm.streams.info(names.stream, { subjects_filter: subjects.allClusters(names) });
  return Object.keys(info.state.subjects ?? {}).map((s) => clusterOfSubject(names, s)!).filter(Boolean).sort();
}

/** The clusters with a subject on the stream, and whether each has a trusted whole-cluster snapshot. */
export async function clustersCovered(jsm: JetStreamManager, store: ClusterEventStore, names: StreamNames, snapshots: Snapshots | undefined) {
  const clusters = await clustersOnStream(jsm, names);
  const quiet: Snapshots | undefined = snapshots && { blobs: snapshots.blobs };
  return Promise.all(clusters.map(async (cluster) => ({
    cluster,
    hasTrustedSnapshot: quiet !== undefined && (await loadSnapshot(store, subjects.cluster(names, cluster), cluster, undefined, quiet)) !== undefined,
  })));
}

/**
 * A retention an operator set, recorded in the event stream's description when `gracectl
 * retention keep` sets it, and kept (with when it was lifted) by `retention off`: what it dropped
 * stays dropped. A cluster whose history lost its start with no retention recorded was truncated
 * by something else, and nothing reads it from where it starts (fail closed).
 */
export interface RecordedRetention {
  keep: number;
  setAt: Date;
  offSince?: Date;
}

const RETENTION_RECORD = /^gracekeeper retention: keep (\d+) set (\S+?)(?:, off since (\S+))?$/;

export function retentionRecord(description: string | undefined): RecordedRetention | undefined {
  const m = RETENTION_RECORD.exec(description ?? '');
  if (!m) return undefined;
  const setAt = new Date(m[2]!);
  const offSince = m[3] === undefined ? undefined : new Date(m[3]);
  if (Number.isNaN(setAt.getTime()) || (offSince && Number.isNaN(offSince.getTime()))) return undefined;
  return { keep: Number(m[1]), setAt, ...(offSince ? { offSince } : {}) };
}

function retentionDescription(r: RecordedRetention): string {
  return `gracekeeper retention: keep ${r.keep} set ${r.setAt.toISOString()}${r.offSince ? `, off since ${r.offSince.toISOString()}` : ''}`;
}

/** Sets (keep > 0) or removes (keep = -1) the per-cluster retention on the event stream, and records it. */
export async function setRetention(jsm: JetStreamManager, names: StreamNames, keep: number, now = new Date()): Promise<void> {
  const info = await jsm.streams.info(names.stream);
  const previous = retentionRecord(info.config.description);
  const record = keep > 0 ? { keep, setAt: now } : previous && !previous.offSince ? { ...previous, offSince: now } : previous;
  const description = record ? retentionDescription(record) : info.config.description;
  await jsm.streams.update(names.stream, { ...info.config, max_msgs_per_subject: keep, ...(description !== undefined ? { description } : {}) });
}

export interface HistoryStart {
  /** The retention in force (-1: keep everything). */
  keep: number;
  /** The last retention an operator set, if any (it may be off now). */
  retention?: RecordedRetention;
  firstSequence?: number;
  firstTime?: Date;
  /** The type of the first stored event ('(malformed)' when it cannot be read). */
  firstEvent?: string;
  /** The first stored message links to no predecessor (the readers' rule): nothing before it was lost. */
  complete: boolean;
}

/** The retention in force and recorded, and where a cluster's stored history starts. */
export async function historyStart(jsm: JetStreamManager, names: StreamNames, cluster: string): Promise<HistoryStart> {
  const info = await jsm.streams.info(names.stream);
  const keep = info.config.max_msgs_per_subject ?? -1;
  const retention = retentionRecord(info.config.description);
  const recorded = retention ? { retention } : {};
  let first;
  try {
    first = await jsm.streams.getMessage(names.stream, nextBySubject(subjects.cluster(names, cluster), 1));
  } catch (err) {
    if (!(err instanceof JetStreamApiError)) throw err;
  }
  if (!first) return { keep, ...recorded, complete: true };
  let firstEvent = '(malformed)';
  try {
    firstEvent = String((first.json() as { events?: { type?: string }[] }).events?.[0]?.type ?? '(none)');
  } catch {
    // a malformed first message: shown as such; whether history is complete is the link's to say
  }
  // The readers' rule (chain.ts): a first message that links to a predecessor lost what came before.
  const linksBack = (fromGet(first).expectedLast ?? 0) > 0;
  return { keep, ...recorded, firstSequence: first.seq, firstTime: first.time, firstEvent, complete: !linksBack };
}

/**
 * Where a reader of a cluster's whole history (an audit) starts: sequence 1 when the history is
 * complete; where it now starts, with a notice saying so, when a recorded retention dropped the
 * rest. A history that lost its start with no retention recorded is refused (TruncatedHistory).
 */
export async function retainedHistory(jsm: JetStreamManager, names: StreamNames, cluster: string): Promise<{ from: number; notice?: string }> {
  const h = await historyStart(jsm, names, cluster);
  if (h.complete || h.firstSequence === undefined) return { from: 1 };
  if (!h.retention) throw new TruncatedHistory(subjects.cluster(names, cluster), h.firstSequence, undefined, h.firstEvent);
  return { from: h.firstSequence, notice: `${historyStartText(h)}; ${droppedBy(h.retention)}` };
}

function historyStartText(h: HistoryStart): string {
  return `history starts at sequence ${h.firstSequence}, ${h.firstTime?.toISOString()}`;
}

function droppedBy(r: RecordedRetention): string {
  return `earlier events were dropped by the retention set on ${r.setAt.toISOString()} (keep the last ${r.keep} decisions of each cluster${r.offSince ? `; off since ${r.offSince.toISOString()}` : ''})`;
}

/** One line for operators: the retention in force and where a cluster's history starts (`gracectl retention`, `audit`). */
export function historyText(h: HistoryStart, cluster: string): string {
  const kept = h.keep > 0 ? `retention: the last ${h.keep} decisions of each cluster` : 'retention: none (the full log is kept)';
  if (h.firstSequence === undefined) return `${kept}; cluster ${cluster} has no history`;
  if (h.complete) return `${kept}; cluster ${cluster}: ${historyStartText(h)}, its creation`;
  if (h.retention) return `${kept}; cluster ${cluster}: ${historyStartText(h)}; ${droppedBy(h.retention)}; audits of them come from the PostgreSQL read model`;
  return `${kept}; cluster ${cluster}: ${historyStartText(h)}; earlier events are missing and no retention was recorded: the history was truncated (restore the stream from a backup)`;
}

/** Every cluster on the stream whose history no longer starts at its creation, one line each (empty: none). */
export async function incompleteHistories(jsm: JetStreamManager, names: StreamNames): Promise<string[]> {
  const lines: string[] = [];
  for (const cluster of await clustersOnStream(jsm, names)) {
    const h = await historyStart(jsm, names, cluster);
    if (h.complete) continue;
    lines.push(h.retention
      ? `cluster ${cluster}: ${historyStartText(h)}; ${droppedBy(h.retention)}`
      : `cluster ${cluster}: ${historyStartText(h)}; earlier events are missing and no retention was recorded: the history was truncated`);
  }
  return lines;
}
