import { subjects, StreamNames } from '#contracts';
import { reloadEachAttempt } from '#event-store';
import { ClusterState, Command, evolve, initialClusterState } from '#domain';
import { ClusterEventStore, CommandResult, Decider, executeCommands, ExecuteMeta } from './execute';

/** Replays a cluster's subject into a fresh state (no cache: what gracectl and audits use). */
export async function loadCluster(store: ClusterEventStore, names: StreamNames, cluster: string, options: { trackedNodes?: string[] } = {}) {
  const subject = subjects.cluster(names, cluster);
  const result = await store.aggregateStream<ClusterState>(subject, {
    initialState: initialClusterState({ trackedNodes: options.trackedNodes }),
    evolve: (state, stored) => {
      for (const e of stored.message.events) evolve(state, e);
      return state;
    },
  });
  return { state: result.state, version: result.version, malformed: result.malformed };
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
  options: { decide?: Decider } = {},
): Promise<CommandResult> {
  const source = reloadEachAttempt(() => loadCluster(store, names, cluster));
  const [result] = await executeCommands(store, subjects.cluster(names, cluster), cluster, source, [command], meta, { maxAttempts: 50, ...options });
  return result;
}
