import { ClusterState, initialClusterState } from './state';

/**
 * The cluster state as text and back, for snapshots (pure: no I/O, no clock, no hashing; the
 * envelope with version, checksum and cluster lives in libs/cluster-store/src/snapshots.ts).
 *
 * Generic over the state's fields on purpose: Maps and Sets are tagged wherever they stand, so a
 * field added to `ClusterState` is carried without touching this file. The property test
 * (snapshot.spec.ts) shows snapshot + tail = full replay for random histories, which catches a
 * field this codec cannot carry (a class instance, a function, a Date).
 */

/**
 * Changes whenever the state's layout can have changed: the format number (bump it when a field
 * changes meaning) and the names of the state's top-level fields. A snapshot written by a build
 * with another layout is refused on load (full replay instead), never read into the wrong shape.
 */
export const STATE_SNAPSHOT_SCHEMA = `1:${Object.keys(initialClusterState()).sort().join(',')}`;

const MAP = '$map';
const SET = '$set';

export function snapshotOf(state: ClusterState): string {
  return JSON.stringify(state, (_key, value: unknown) => {
    if (value instanceof Map) return { [MAP]: [...value] };
    if (value instanceof Set) return { [SET]: [...value] };
    return value;
  });
}

export class SnapshotShapeError extends Error {
  override readonly name = 'SnapshotShapeError';
}

/** The state a `snapshotOf` text holds; throws `SnapshotShapeError` on text of another shape. */
export function stateFromSnapshot(text: string): ClusterState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new SnapshotShapeError(`snapshot is not valid JSON: ${(err as Error).message}`);
  }
  try {
    return checkShape(revive(parsed));
  } catch (err) {
    if (err instanceof SnapshotShapeError) throw err;
    throw new SnapshotShapeError(`snapshot state has a bad shape: ${(err as Error).message}`);
  }
}

/** Turns the tagged objects back into Maps and Sets, in place (a JSON.parse reviver is ~3x slower: measured). */
function revive(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = revive(value[i]);
    return value;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1 && Array.isArray(record[keys[0]!])) {
    const items = record[keys[0]!] as unknown[];
    if (keys[0] === MAP) return new Map(items.map((entry) => revive(entry) as [unknown, unknown]));
    if (keys[0] === SET) return new Set(items.map(revive));
  }
  for (const key of keys) record[key] = revive(record[key]);
  return record;
}

/** Only the fields every decider reads unconditionally: the checksum guards the rest. */
function checkShape(value: unknown): ClusterState {
  const s = value as Partial<ClusterState> | null;
  const problem =
    typeof s !== 'object' || s === null ? 'not an object'
      : typeof s.exists !== 'boolean' ? 'exists'
      : !Number.isSafeInteger(s.epoch) ? 'epoch'
      : !Number.isSafeInteger(s.recoveryEpoch) ? 'recoveryEpoch'
      : !Number.isSafeInteger(s.eventsApplied) ? 'eventsApplied'
      : typeof s.config !== 'object' || s.config === null ? 'config'
      : !(s.members instanceof Map) ? 'members'
      : !(s.records instanceof Map) ? 'records'
      : s.trackedNodes !== undefined && !(s.trackedNodes instanceof Set) ? 'trackedNodes'
      : undefined;
  if (problem) throw new SnapshotShapeError(`snapshot state has a bad ${problem === 'not an object' ? 'shape' : `field ${problem}`}`);
  return s as ClusterState;
}

/**
 * A whole-cluster state narrowed to the view of an agent that tracks only `nodes`: what folding
 * the same log with `trackedNodes` gives (only client records depend on tracking). Mutates and
 * returns `state`. Lets an agent start from the coordinator's snapshot when it has none of its own.
 */
export function narrowToNodes(state: ClusterState, nodes: Iterable<string>): ClusterState {
  const tracked = new Set(nodes);
  for (const node of [...state.records.keys()]) if (!tracked.has(node)) state.records.delete(node);
  state.trackedNodes = tracked;
  return state;
}
