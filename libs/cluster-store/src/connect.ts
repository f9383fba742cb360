import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { decisionCodec, DecisionMessage, StreamNames, subjects } from '#contracts';
import { JetStreamEventStore, MalformedHandler, provisionStream, requireStream } from '#event-store';
import { defaultReplicas, durabilityWarning, topologyOf } from './durability';
import { connectNats, describeNatsSecurity, developmentMode, natsSecurityOptions } from './nats-connection';
import { KvSnapshotBlobs } from './snapshot-blobs';
import type { SnapshotPolicy } from './snapshot-writer';
import type { Snapshots } from './snapshots';

/** One line for a process's start-up log; `warn` for development mode and weaknesses. */
export interface StartupNote {
  level: 'info' | 'warn';
  text: string;
}

export type GraceEventStore = JetStreamEventStore<DecisionMessage>;

export interface OpenedStore {
  nc: NatsConnection;
  store: GraceEventStore;
  /** The snapshot bucket beside the stream; undefined when it could not be opened (loads then replay the whole log). */
  snapshots?: Snapshots;
  /** How this connection is secured and what became of the stream, for the process's start-up log. */
  startupNotes: StartupNote[];
  close(): Promise<void>;
}

/**
 * Connects to NATS (credentials and TLS from files: nats-connection.ts), checks the event stream,
 * and returns the one event store every Gracekeeper process uses. `reconnect` stays on: a
 * partitioned agent must come back by itself.
 *
 * Fail closed: the stream is created (or its configuration reconciled) only when asked to
 * (`provision`), which defaults to development mode or `GK_CREATE_STREAM=1`; otherwise a missing
 * stream is `StreamMissing`, since a stream that vanished may be lost history.
 */
export async function openGraceStore(options: {
  natsUrl: string;
  names: StreamNames;
  name: string;
  onMalformed?: MalformedHandler;
  reconnect?: boolean;
  timeoutMs?: number;
  /** Create the stream if missing and reconcile its settings (default: GK_CREATE_STREAM=1 or development mode). */
  provision?: boolean;
  /**
   * Event stream replicas; default from GK_STREAM_REPLICAS, else the stream's own (when created:
   * 3 on a clustered NATS system, 1 on a single server).
   */
  replicas?: number;
  /** Where NATS credentials, TLS files and the mode are read (default process.env; tests: one identity each). */
  environment?: Record<string, string | undefined>;
  /** Use the snapshot bucket (default true). */
  snapshots?: boolean;
  /** A snapshot that could not be used or written. Default: a warning on stderr. */
  onSnapshotProblem?: (message: string) => void;
  /** Where a durability warning goes (a single-replica log outside development). Default: the start-up notes. */
  warn?: (message: string) => void;
}): Promise<OpenedStore> {
  const environment = options.environment ?? process.env;
  const replicas = options.replicas ?? replicasFromEnvironment(environment);
  const policy = snapshotPolicyFromEnvironment(environment);
  const provision = options.provision ?? createStreamFromEnvironment(environment);
  const { security } = natsSecurityOptions(options.natsUrl, environment);
  const open = security.development || security.credentials === 'none';
  const startupNotes: StartupNote[] = [{ level: open ? 'warn' : 'info', text: describeNatsSecurity(options.natsUrl, security) }];
  const nc = await connectNats(options.natsUrl, environment, {
    name: options.name,
    reconnect: options.reconnect ?? true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    timeout: options.timeoutMs ?? 5000,
    // Two Error objects with stack traces per request cost ~30 µs of CPU per publish: measured to
    // cap pipelined appends at 14k/s instead of 22k/s.
    noAsyncTraces: true,
  });
  // The snapshot bucket gets as many replicas as the event stream it summarises.
  let replicasNow = 1;
  try {
    const jsm = await jetstreamManager(nc);
    const topology = topologyOf(nc.info);
    if (provision) {
      replicasNow = (await provisionStream(jsm, options.names, { replicas, replicasWhenCreated: defaultReplicas(topology) })).config.num_replicas;
    } else {
      const { info, weaknesses } = await requireStream(jsm, options.names);
      replicasNow = info.config.num_replicas;
      for (const w of weaknesses) startupNotes.push({ level: 'warn', text: `WARNING: event stream ${options.names.stream}: ${w} (run gracectl init to fix)` });
    }
    const warning = durabilityWarning(options.names.stream, replicasNow, topology, options.natsUrl);
    if (warning && options.warn) options.warn(warning);
    else if (warning) startupNotes.push({ level: 'warn', text: warning });
  } catch (err) {
    await nc.close();
    throw err;
  }
  const store = new JetStreamEventStore<DecisionMessage>({
    nc,
    names: options.names,
    codec: decisionCodec,
    onMalformed: options.onMalformed,
    linkedSubjects: (subject) => subjects.isCluster(options.names, subject),
  });
  const onProblem = options.onSnapshotProblem ?? ((message: string) => process.stderr.write(`warning: ${message}\n`));
  let snapshots: Snapshots | undefined;
  if ((options.snapshots ?? true) && policy !== 'off') {
    try {
      snapshots = { blobs: await KvSnapshotBlobs.open(nc, options.names, { create: provision, replicas: replicasNow }), onProblem, policy };
    } catch (err) {
      onProblem(`snapshot bucket unavailable, every load replays the whole log: ${(err as Error).message}`);
    }
  }
  return { nc, store, snapshots, startupNotes, close: () => nc.drain().catch(() => nc.close()) };
}

/**
 * GK_SNAPSHOTS=off: no snapshots at all (every load replays the whole log). GK_SNAPSHOT_EVERY
 * (messages, default 10000) and GK_SNAPSHOT_INTERVAL_MS (default 300000): when live views write one.
 */
function snapshotPolicyFromEnvironment(environment: Record<string, string | undefined>): SnapshotPolicy | 'off' {
  if (environment.GK_SNAPSHOTS === 'off') return 'off';
  const positive = (name: string): number | undefined => {
    const raw = environment[name];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a whole number of at least 1, got ${JSON.stringify(raw)}`);
    return n;
  };
  return { everyMessages: positive('GK_SNAPSHOT_EVERY'), everyMs: positive('GK_SNAPSHOT_INTERVAL_MS') };
}

/** `GK_CREATE_STREAM=1`, or development mode: the explicit ways to let a process create the stream. */
export function createStreamFromEnvironment(environment: Record<string, string | undefined> = process.env): boolean {
  return developmentMode(environment) || /^(1|true|yes)$/i.test(environment.GK_CREATE_STREAM?.trim() ?? '');
}

function replicasFromEnvironment(environment: Record<string, string | undefined>): number | undefined {
  const raw = environment.GK_STREAM_REPLICAS;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 5) throw new Error(`GK_STREAM_REPLICAS must be a whole number from 1 to 5, got ${JSON.stringify(raw)}`);
  return n;
}
