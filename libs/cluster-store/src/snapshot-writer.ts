import { ClusterState, narrowToNodes } from '#domain';
import { encodeSnapshot, snapshotKey, Snapshots } from './snapshots';

export interface SnapshotPolicy {
  /** Write after this many stored decisions were applied since the last snapshot. Default 10,000. */
  everyMessages?: number;
  /** ...or once this long has passed since the last snapshot and something was applied. Default 5 min. */
  everyMs?: number;
}

/** The view that tracks no node's client records: members, epochs and grace only. */
export const MEMBERS_ONLY: readonly string[] = [];

export const DEFAULT_SNAPSHOT_POLICY: Required<SnapshotPolicy> = { everyMessages: 10_000, everyMs: 5 * 60_000 };

/**
 * Writes a live view's snapshots: periodically (every N messages or T ms, whichever first) and
 * once more on a clean close. The state is serialised synchronously at the version it reflects
 * (evolve mutates it in place), then written in the background; one write at a time, and a write
 * that fails is reported and retried at the next opportunity. Never blocks or fails a decision.
 */
export class SnapshotWriter {
  private sinceLast = 0;
  private lastAt = Date.now();
  private writtenVersion: number;
  private inFlight?: Promise<void>;
  private readonly policy: Required<SnapshotPolicy>;
  written = 0;

  constructor(
    private readonly snapshots: Snapshots,
    private readonly cluster: string,
    private readonly trackedNodes: readonly string[] | undefined,
    loadedVersion: number,
    policy: SnapshotPolicy = {},
  ) {
    this.policy = {
      everyMessages: policy.everyMessages ?? DEFAULT_SNAPSHOT_POLICY.everyMessages,
      everyMs: policy.everyMs ?? DEFAULT_SNAPSHOT_POLICY.everyMs,
    };
    this.writtenVersion = loadedVersion;
  }

  /** After each applied message: writes when the policy says it is time. */
  applied(state: ClusterState, version: number): void {
    this.sinceLast++;
    if (this.inFlight) return;
    if (this.sinceLast >= this.policy.everyMessages || Date.now() - this.lastAt >= this.policy.everyMs) this.inFlight = this.write(state, version);
  }

  /**
   * On a clean shutdown: the last write finishes, then the state as it is now is written (if it
   * moved). Waits at most `limitMs`: a shutdown while NATS is unreachable must not hang on it.
   */
  async flush(state: ClusterState, version: number, limitMs = 3000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const giveUp = new Promise<void>((resolve) => { timer = setTimeout(resolve, limitMs); });
    const work = (async () => {
      await this.inFlight;
      if (version > this.writtenVersion) await this.write(state, version);
    })();
    await Promise.race([work, giveUp]).finally(() => clearTimeout(timer));
  }

  private write(state: ClusterState, version: number): Promise<void> {
    const text = encodeSnapshot(this.cluster, this.trackedNodes, state, version);
    // A whole-cluster view also writes the view of no node's records (a few hundred bytes): what
    // `gracectl dump` loads, instead of reading and parsing every client record (~13 MB at 10^5).
    const membersOnly = this.trackedNodes === undefined
      ? encodeSnapshot(this.cluster, MEMBERS_ONLY, narrowToNodes({ ...state, records: new Map(state.records) }, MEMBERS_ONLY), version)
      : undefined;
    this.sinceLast = 0;
    this.lastAt = Date.now();
    const blobs = this.snapshots.blobs;
    return blobs.write(snapshotKey(this.cluster, this.trackedNodes), text).then(() => membersOnly === undefined ? undefined : blobs.write(snapshotKey(this.cluster, MEMBERS_ONLY), membersOnly)).then(
      () => { this.writtenVersion = version; this.written++; },
      (err: unknown) => this.snapshots.onProblem?.(`writing the snapshot of ${this.cluster} at ${version} failed: ${(err as Error).message}`),
    ).finally(() => { this.inFlight = undefined; });
  }
}
