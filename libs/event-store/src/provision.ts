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

/**
 * The fewest decisions per cluster an operator may keep (stream max_msgs_per_subject), set with
 * `gracectl retention` once snapshots cover what it drops (docs/operations.md, "History
 * retention"). A per-subject count, not an age: it never drops a cluster's latest decision, which
 * the next append's expectation and every snapshot check link to. Provisioning leaves a limit this
 * large or larger alone and resets any smaller one to -1 (keep everything).
 */
export const MIN_RETAINED_DECISIONS = 100_000;

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
    // Fail closed: no API call may remove a message or clear the log (I6). The server refuses to
    // lift either once set; deleting the whole stream is kept from services by NATS permissions
    // (deploy/nats/), and readers refuse a truncated history (chain.ts TruncatedHistory).
    deny_delete: true,
    deny_purge: true,
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

/** The event stream does not exist, and this process was not told to create it. */
export class StreamMissing extends Error {
  override readonly name = 'StreamMissing';
  constructor(readonly stream: string) {
    super(`the event stream ${stream} does not exist. A production service never creates it by itself (a missing stream ` +
      'may mean lost history): create it once with `gracectl init`, or start with --create-stream (GK_CREATE_STREAM=1) ' +
      'or in development mode (GK_DEV_MODE=1)');
  }
}

/**
 * For processes that must not create or change the stream: its info, or `StreamMissing`. Also
 * returns what in its configuration is not fail-closed, for the caller to warn about.
 */
export async function requireStream(jsm: JetStreamManager, names: StreamNames): Promise<{ info: StreamInfo; weaknesses: string[] }> {
  const info = await streamInfo(jsm, names.stream);
  if (!info) throw new StreamMissing(names.stream);
  const weaknesses: string[] = [];
  if (!info.config.deny_delete) weaknesses.push('deny_delete is off: messages can be deleted');
  if (!info.config.deny_purge) weaknesses.push('deny_purge is off: the stream can be purged');
  if (info.config.max_age || (info.config.max_msgs ?? -1) > 0 || (info.config.max_bytes ?? -1) > 0 || (info.config.max_msgs_per_subject ?? -1) > 0) {
    weaknesses.push('it has limits that can drop events');
  }
  return { info, weaknesses };
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
    'num_replicas', 'duplicate_window', 'deny_delete', 'deny_purge', 'allow_rollup_hdrs',
  ] as const;
  for (const key of keys) {
    if (key === 'num_replicas' && !replicasGiven) continue;
    if (key === 'max_msgs_per_subject' && actual.max_msgs_per_subject >= MIN_RETAINED_DECISIONS) continue; // an operator's deliberate retention
    if (actual[key] !== desired[key]) drift[key] = desired[key];
  }
  const want = [...desired.subjects].sort();
  const have = [...(actual.subjects ?? [])].sort();
  if (want.join('\n') !== have.join('\n')) drift.subjects = desired.subjects;
  return drift as Partial<StreamUpdateConfig>;
}
