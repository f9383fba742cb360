/**
 * Stream and subject names: the one place that knows them.
 *
 * Every cluster is one aggregate on one subject (`<prefix>.cluster.<cluster>`): nats-server 2.9
 * has no per-subject expectation across several subjects and no atomic batch publish, so every
 * decision of a cluster is one message on one subject and the stream sequence of that subject's
 * last message is the aggregate's version. Registry-owned audit events (`ClientRecordsInvalidated`)
 * go to `<prefix>.registry.<cluster>` so that they never race the grace decisions.
 *
 * The prefix exists so that every test run, benchmark and deployment can share one NATS server
 * without seeing each other's events.
 */
export interface StreamNames {
  /** JetStream stream holding every event of every cluster under this prefix. */
  readonly stream: string;
  /** Subject prefix, e.g. `gk` or `gk_test_1a2b`. */
  readonly prefix: string;
}

const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export function isValidToken(value: string): boolean {
  return TOKEN.test(value);
}

export function streamNames(prefix = 'gk'): StreamNames {
  if (!isValidToken(prefix)) throw new Error(`invalid subject prefix ${JSON.stringify(prefix)}: use letters, digits, _ and -`);
  return { stream: `${prefix.toUpperCase().replace(/-/g, '_')}_EVENTS`, prefix };
}

export const subjects = {
  /** Every subject the event stream captures. */
  all: (n: StreamNames) => `${n.prefix}.>`,
  /** The cluster aggregate: grace state, members and client records. */
  cluster: (n: StreamNames, cluster: string) => `${n.prefix}.cluster.${token(cluster, 'cluster')}`,
  /** Wildcard over every cluster aggregate (coordinators and projections). */
  allClusters: (n: StreamNames) => `${n.prefix}.cluster.*`,
  /**
   * Whether a subject is a cluster aggregate, where every append is conditional: readers ignore
   * a message there that does not carry the expected last sequence (event-store chain.ts).
   */
  isCluster: (n: StreamNames, subject: string) => subject.startsWith(`${n.prefix}.cluster.`),
  /** Registry audit events of one cluster. */
  registry: (n: StreamNames, cluster: string) => `${n.prefix}.registry.${token(cluster, 'cluster')}`,
  /**
   * NATS request/reply subject of the grace-coordinator's commands. Outside `<prefix>.>` on
   * purpose: the event stream captures that whole tree, and a request it captured would be
   * stored and answered with a publish ack instead of reaching the service.
   */
  coordinatorRequests: (n: StreamNames, cluster: string) => `${n.prefix}_rpc.coordinator.${token(cluster, 'cluster')}`,
  /**
   * Core-NATS subject of the agents' heartbeats of one cluster (libs/contracts heartbeat.ts):
   * outside `<prefix>.>` so that the event stream never stores them (one per agent per second
   * would be most of the log). Agents publish, coordinators subscribe.
   */
  heartbeats: (n: StreamNames, cluster: string) => `${n.prefix}_hb.${token(cluster, 'cluster')}`,
  /** NATS request/reply subject of the client-registry's queries (outside the stream, as above). */
  registryRequests: (n: StreamNames, cluster: string) => `${n.prefix}_rpc.registry.${token(cluster, 'cluster')}`,
  /**
   * JetStream KV bucket of state snapshots (one per prefix, history 1, beside the event stream;
   * its own stream is `KV_<bucket>` and its subjects `$KV.<bucket>.>`). Keys are
   * `<cluster>.<scope>.head` and `<cluster>.<scope>.<id>.<part>`: see libs/cluster-store/src/snapshot-blobs.ts.
   */
  snapshotBucket: (n: StreamNames) => `${n.stream.replace(/_EVENTS$/, '')}_SNAPSHOTS`,
};

/** The cluster id in a cluster subject, or undefined when the subject is not one. */
export function clusterOfSubject(n: StreamNames, subject: string): string | undefined {
  const head = `${n.prefix}.cluster.`;
  if (subject.startsWith(head)) return subject.slice(head.length);
  const reg = `${n.prefix}.registry.`;
  if (subject.startsWith(reg)) return subject.slice(reg.length);
  return undefined;
}

function token(value: string, what: string): string {
  if (!isValidToken(value)) throw new Error(`invalid ${what} id ${JSON.stringify(value)}: use 1-128 letters, digits, _ and -`);
  return value;
}
