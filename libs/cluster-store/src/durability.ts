import type { ServerInfo } from '@nats-io/transport-node';

/**
 * Durability defaults (issue 10 item 8): the event log is the only copy of every decision, so on a
 * clustered NATS system it is replicated on three servers unless the operator says otherwise,
 * and a single-replica log outside development is announced loudly. See docs/operations.md
 * ("Durability") for the sync policy and its measured cost.
 */
export interface NatsTopology {
  /** The server we reached belongs to a NATS cluster (its INFO names one). */
  clustered: boolean;
  /** Servers the cluster advertises (connect_urls), at least 1. */
  servers: number;
}

export function topologyOf(info: ServerInfo | undefined): NatsTopology {
  const clustered = typeof info?.cluster === 'string' && info.cluster !== '';
  // A cluster that does not advertise its members (no_advertise) is taken as the usual three.
  const advertised = info?.connect_urls?.length ?? 0;
  return { clustered, servers: clustered ? (advertised || 3) : 1 };
}

/** Replicas for an event stream created without an explicit count: 3 on a cluster of at least 3. */
export function defaultReplicas(t: NatsTopology): number {
  return t.clustered && t.servers >= 3 ? 3 : 1;
}

/** Development: every NATS URL is on this machine's loopback (the quick start). */
export function loopbackOnly(natsUrl: string): boolean {
  return natsUrl.split(',').every((u) => /^(nats:\/\/|tls:\/\/)?(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?\/?$/i.test(u.trim()));
}

/** The warning to print for a stream of `replicas`, or undefined when nothing is wrong. */
export function durabilityWarning(stream: string, replicas: number, t: NatsTopology, natsUrl: string): string | undefined {
  if (replicas > 1) return undefined;
  if (t.clustered) {
    return `WARNING: event stream ${stream} has 1 replica on a ${t.servers}-server NATS cluster: losing one server's disk loses acknowledged decisions (I6). Scale it: nats stream edit ${stream} --replicas 3 (or GK_STREAM_REPLICAS=3).`;
  }
  if (!loopbackOnly(natsUrl)) {
    return `WARNING: event stream ${stream} has 1 replica on a single NATS server: outside development, run a 3-server JetStream cluster (see docs/operations.md, Durability).`;
  }
  return undefined;
}
