import { JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';
import { clusterOfSubject, subjects, type StreamNames } from '#contracts';
import { MIN_RETAINED_DECISIONS, nextBySubject } from '#event-store';
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

/** The clusters with a subject on the stream, and whether each has a trusted whole-cluster snapshot. */
export async function clustersCovered(jsm: JetStreamManager, store: ClusterEventStore, names: StreamNames, snapshots: Snapshots | undefined) {
  const info = await jsm.streams.info(names.stream, { subjects_filter: subjects.allClusters(names) });
  const clusters = Object.keys(info.state.subjects ?? {}).map((s) => clusterOfSubject(names, s)!).filter(Boolean).sort();
  const quiet: Snapshots | undefined = snapshots && { blobs: snapshots.blobs };
  return Promise.all(clusters.map(async (cluster) => ({
    cluster,
    hasTrustedSnapshot: quiet !== undefined && (await loadSnapshot(store, subjects.cluster(names, cluster), cluster, undefined, quiet)) !== undefined,
  })));
}

/** Sets (keep > 0) or removes (keep = -1) the per-cluster retention on the event stream. */
export async function setRetention(jsm: JetStreamManager, names: StreamNames, keep: number): Promise<void> {
  const info = await jsm.streams.info(names.stream);
  await jsm.streams.update(names.stream, { ...info.config, max_msgs_per_subject: keep });
}

/** The retention in force (-1: keep everything) and where a cluster's stored history starts. */
export async function historyStart(jsm: JetStreamManager, names: StreamNames, cluster: string): Promise<{ keep: number; firstSequence?: number; firstTime?: Date; complete: boolean }> {
  const info = await jsm.streams.info(names.stream);
  const keep = info.config.max_msgs_per_subject ?? -1;
  let first;
  try {
    first = await jsm.streams.getMessage(names.stream, nextBySubject(subjects.cluster(names, cluster), 1));
  } catch (err) {
    if (!(err instanceof JetStreamApiError)) throw err;
  }
  if (!first) return { keep, complete: true };
  let creates = false;
  try {
    creates = (first.json() as { events?: { type?: string }[] }).events?.[0]?.type === 'ClusterConfigured';
  } catch {
    // a malformed first message: history may still be complete, but it cannot be shown to be
  }
  return { keep, firstSequence: first.seq, firstTime: first.time, complete: creates };
}
