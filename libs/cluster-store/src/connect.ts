import { jetstreamManager } from '@nats-io/jetstream';
import { connect, NatsConnection } from '@nats-io/transport-node';
import { decisionCodec, DecisionMessage, natsServers, StreamNames } from '#contracts';
import { JetStreamEventStore, MalformedHandler, provisionStream } from '#event-store';
import { defaultReplicas, durabilityWarning, topologyOf } from './durability';

export type GraceEventStore = JetStreamEventStore<DecisionMessage>;

export interface OpenedStore {
  nc: NatsConnection;
  store: GraceEventStore;
  close(): Promise<void>;
}

/**
 * Connects to NATS, makes sure the event stream exists, and returns the one event store every
 * Gracekeeper process uses. `reconnect` stays on: a partitioned agent must come back by itself.
 */
export async function openGraceStore(options: {
  natsUrl: string;
  names: StreamNames;
  name: string;
  onMalformed?: MalformedHandler;
  reconnect?: boolean;
  timeoutMs?: number;
  provision?: boolean;
  /**
   * Event stream replicas; default from GK_STREAM_REPLICAS, else the stream's own (when created:
   * 3 on a clustered NATS system, 1 on a single server).
   */
  replicas?: number;
  /** Where a durability warning goes (a single-replica log outside development). Default: stderr. */
  warn?: (message: string) => void;
}): Promise<OpenedStore> {
  const replicas = options.replicas ?? replicasFromEnvironment();
  const nc = await connect({
    servers: natsServers(options.natsUrl),
    name: options.name,
    reconnect: options.reconnect ?? true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    timeout: options.timeoutMs ?? 5000,
    // Two Error objects with stack traces per request cost ~30 µs of CPU per publish: measured to
    // cap pipelined appends at 14k/s instead of 22k/s.
    noAsyncTraces: true,
  });
  try {
    if (options.provision ?? true) {
      const topology = topologyOf(nc.info);
      const info = await provisionStream(await jetstreamManager(nc), options.names, { replicas, replicasWhenCreated: defaultReplicas(topology) });
      const warning = durabilityWarning(options.names.stream, info.config.num_replicas, topology, options.natsUrl);
      if (warning) (options.warn ?? ((m: string) => process.stderr.write(`${m}\n`)))(warning);
    }
  } catch (err) {
    await nc.close();
    throw err;
  }
  const store = new JetStreamEventStore<DecisionMessage>({ nc, names: options.names, codec: decisionCodec, onMalformed: options.onMalformed });
  return { nc, store, close: () => nc.drain().catch(() => nc.close()) };
}

function replicasFromEnvironment(): number | undefined {
  const raw = process.env.GK_STREAM_REPLICAS;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 5) throw new Error(`GK_STREAM_REPLICAS must be a whole number from 1 to 5, got ${JSON.stringify(raw)}`);
  return n;
}
