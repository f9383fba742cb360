import { subjects, StreamNames } from '#contracts';
import { decideAndAppend } from '#event-store';
import { ClusterState, Command, evolve, initialClusterState } from '#domain';
import type { GraceEventStore } from './connect';
import { decideAndSeal, ExecuteMeta, Executed } from './execute';

/** Replays a cluster's subject into a fresh state (no cache: what gracectl and audits use). */
export async function loadCluster(store: GraceEventStore, names: StreamNames, cluster: string, options: { trackedNodes?: string[] } = {}) {
  const subject = subjects.cluster(names, cluster);
  const result = await store.aggregate<ClusterState>(subject, {
    initial: initialClusterState({ trackedNodes: options.trackedNodes }),
    evolve: (state, stored) => {
      for (const e of stored.message.events) evolve(state, e);
      return state;
    },
  });
  return { state: result.state, version: result.version, malformed: result.malformed };
}

/**
 * Load → decide → append with the loaded version → on conflict load again and decide again.
 * For processes without a live view (gracectl, coordinator admin calls).
 */
export async function executeOnce(store: GraceEventStore, names: StreamNames, cluster: string, command: Command, meta: ExecuteMeta): Promise<Executed> {
  const subject = subjects.cluster(names, cluster);
  let sealed: ReturnType<typeof decideAndSeal> | undefined;
  const result = await decideAndAppend({
    store,
    subject,
    maxAttempts: 50,
    load: () => loadCluster(store, names, cluster),
    decide: (state) => {
      sealed = decideAndSeal(command, state, cluster, meta);
      return sealed.ok ? { ok: true, message: sealed.message } : { ok: false, rejection: sealed.rejection };
    },
  });
  if (!sealed) throw new Error('decideAndAppend returned without deciding');
  if (!sealed.ok) return { ok: false, rejection: sealed.rejection };
  return { ok: true, decision: sealed.decision, events: sealed.message?.events ?? [], sequence: result.sequence };
}
