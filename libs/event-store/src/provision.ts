import {
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
  type StreamUpdateConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { subjects, type StreamNames } from '#contracts';
import { JsErrorCodes } from './errors';

export interface ProvisionOptions {
  /**
   * Stream replicas (1 on a single server, 3 on a JetStream cluster). Used when creating the
   * stream (default 1); an existing stream's replicas change only when this is given, so a
   * service started without it never scales down what an operator set up.
   */
  replicas?: number;
  /** Replicas when the stream has to be created and `replicas` is not given (never changes an existing stream). */
  replicasWhenCreated?: number;
  /** How long a msgID is remembered for de-duplication. Default 2 minutes. */
  duplicateWindowMs?: number;
}

const DEFAULT_DUPLICATE_WINDOW_MS = 2 * 60 * 1000;

/** The event stream's configuration. Exported so that health checks can compare against it. */
export function eventStreamConfig(names: StreamNames, opts: ProvisionOptions = {}): StreamConfig {
  return {
    name: names.stream,
    subjects: [subjects.all(names)],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    // The event log is the source of truth: no limit may ever drop an event. Should an operator
    // add a limit anyway, `new` makes the stream refuse writes instead of silently deleting history.
    discard: DiscardPolicy.New,
    max_msgs: -1,
    max_bytes: -1,
    max_age: 0,
    max_msgs_per_subject: -1,
    max_msg_size: -1,
    max_consumers: -1,
    num_replicas: opts.replicas ?? opts.replicasWhenCreated ?? 1,
    duplicate_window: nanos(opts.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS),
    deny_delete: true,
    // Purge stays allowed so that tests and `gracectl` tooling can reset a stream; nothing in the
    // product purges.
    deny_purge: false,
    allow_rollup_hdrs: false,
    sealed: false,
    mirror_direct: false,
    allow_direct: false,
  } as StreamConfig;
}

/**
 * Creates the event stream, or brings an existing one to the expected configuration. Idempotent
 * and safe to race: the server accepts an identical create as a no-op, and a lost race with a
 * different configuration falls through to an update.
 */
export async function provisionStream(jsm: JetStreamManager, names: StreamNames, opts: ProvisionOptions = {}): Promise<StreamInfo> {
  const desired = eventStreamConfig(names, opts);
  for (let attempt = 0; ; attempt++) {
    const existing = await streamInfo(jsm, desired.name);
    if (!existing) {
      try {
        return await jsm.streams.add({ ...desired });
      } catch (err) {
        // Someone else created it in between with another configuration: reconcile below.
        if (err instanceof JetStreamApiError && err.code === JsErrorCodes.StreamNameInUse && attempt < 3) continue;
        throw err;
      }
    }
    for (const fixed of ['storage', 'retention'] as const) {
      // JetStream cannot change these in place, and a wrong retention would delete events.
      if (existing.config[fixed] !== desired[fixed]) {
        throw new Error(`stream ${desired.name} has ${fixed} ${existing.config[fixed]}; the event stream needs ${desired[fixed]}: migrate it by hand`);
      }
    }
    const drift = configDrift(existing.config, desired, opts.replicas !== undefined);
    if (Object.keys(drift).length === 0) return existing;
    return jsm.streams.update(desired.name, drift);
  }
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | null> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JsErrorCodes.StreamNotFound) return null;
    throw err;
  }
}

/** The changeable settings that differ from what the event stream needs. */
function configDrift(actual: StreamConfig, desired: StreamConfig, replicasGiven: boolean): Partial<StreamUpdateConfig> {
  const drift: Record<string, unknown> = {};
  // max_consumers is fixed at creation (2.9 refuses to change it), so it is not reconciled.
  const keys = [
    'discard', 'max_msgs', 'max_bytes', 'max_age', 'max_msgs_per_subject', 'max_msg_size',
    'num_replicas', 'duplicate_window', 'deny_delete', 'allow_rollup_hdrs',
  ] as const;
  for (const key of keys) {
    if (key === 'num_replicas' && !replicasGiven) continue;
    if (actual[key] !== desired[key]) drift[key] = desired[key];
  }
  const want = [...desired.subjects].sort();
  const have = [...(actual.subjects ?? [])].sort();
  if (want.join('\n') !== have.join('\n')) drift.subjects = desired.subjects;
  // A stream with deny_purge set stays that way: the server refuses to clear it, and stricter is fine.
  return drift as Partial<StreamUpdateConfig>;
}
