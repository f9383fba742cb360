import { subjects, StreamNames } from '#contracts';
import { reloadEachAttempt, TruncatedHistory } from '#event-store';
import { ClusterState, Command, evolve, initialClusterState } from '#domain';
import { ClusterEventStore, CommandResult, Decider, executeCommands, ExecuteMeta } from './execute';
import { loadSnapshot, Snapshots } from './snapshots';

export interface LoadOptions {
  trackedNodes?: string[];
  /** Start from the latest trusted snapshot and fold only the tail; without, or when none can be trusted, a full replay. */
  snapshots?: Snapshots;
  /** A state this process loaded before (nobody else holds it: evolve mutates it): only what came after is folded. */
  after?: { state: ClusterState; version: number };
}

/**
 * Loads a cluster's state: the one load path of gracectl, the coordinator's and the agent's views
 * and the audits. `fromSnapshot` is the version the snapshot had (0: full replay).
 */
export async function loadCluster(store: ClusterEventStore, names: StreamNames, cluster: string, options: LoadOptions = {}) {
  const subject = subjects.cluster(names, cluster);
  const from = options.after ?? (options.snapshots ? await loadSnapshot(store, subject, cluster, options.trackedNodes, options.snapshots) : undefined);
  let first: { type: string; sequence: number } | undefined;
  const result = await store.aggregateStream<ClusterState>(subject, {
    initialState: initialClusterState({ trackedNodes: options.trackedNodes }),
    from,
    evolve: (state, stored) => {
      first ??= { type: stored.message.events[0]?.type ?? '(none)', sequence: stored.sequence };
      for (const e of stored.message.events) evolve(state, e);
      return state;
    },
  });
  // Every cluster's first decision configures it: a full replay that starts elsewhere has lost
  // history (a retention limit, or worse) and would be wrong state. Refuse rather than guess.
  if (!from && first !== undefined && first.type !== 'ClusterConfigured') throw new TruncatedHistory(subject, first.sequence, undefined, first.type);
  return { state: result.state, version: result.version, malformed: result.malformed, fromSnapshot: from?.version ?? 0, applied: result.applied };
}

/**
 * Executes one command for a process without a live view (gracectl, tests): the command handler
 * with a fresh load of the cluster on every attempt.
 */
export async function executeOnce(
  store: ClusterEventStore,
  names: StreamNames,
  cluster: string,
  command: Command,
  meta: ExecuteMeta,
  options: { decide?: Decider; snapshots?: Snapshots } = {},
): Promise<CommandResult> {
  // Each retry after a lost race folds only what the winners appended onto this attempt's state.
  let last: { state: ClusterState; version: number } | undefined;
  const source = reloadEachAttempt(async () => (last = await loadCluster(store, names, cluster, { snapshots: options.snapshots, after: last })));
  const [result] = await executeCommands(store, subjects.cluster(names, cluster), cluster, source, [command], meta, { maxAttempts: 50, decide: options.decide });
  return result;
}
