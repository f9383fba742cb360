import { createHash } from 'node:crypto';
import { ClusterState, narrowToNodes, snapshotOf, STATE_SNAPSHOT_SCHEMA, stateFromSnapshot } from '#domain';
import type { ClusterEventStore } from './execute';
import type { SnapshotBlobs } from './snapshot-blobs';
import type { SnapshotPolicy } from './snapshot-writer';

/**
 * Snapshots of a cluster's state (the whole state, or a node-agent's view of its own nodes) at a
 * version of the cluster's subject, so that a start folds only the tail of the log. The state's
 * text comes from the domain (`snapshotOf`); this file adds the envelope that makes a snapshot
 * safe to trust: format, state schema, cluster, scope, version and a SHA-256 of the text.
 */
export interface Snapshots {
  blobs: SnapshotBlobs;
  /** A snapshot that could not be used (missing is not reported): the load falls back to a full replay. */
  onProblem?: (message: string) => void;
  /** When live views write snapshots (default DEFAULT_SNAPSHOT_POLICY). */
  policy?: SnapshotPolicy;
}

const FORMAT = 'gk-snapshot/1';

interface Header {
  format: string;
  schema: string;
  cluster: string;
  scope: string;
  version: number;
  sha256: string;
  writtenAt: string;
}

/** Which view a snapshot holds: `all` records, or only those of the tracked nodes (hex: node ids may hold `:`). */
export function snapshotScope(trackedNodes?: readonly string[]): string {
  if (!trackedNodes) return 'all';
  return `nodes-${Buffer.from(JSON.stringify([...trackedNodes].sort())).toString('hex')}`;
}

export function snapshotKey(cluster: string, trackedNodes?: readonly string[]): string {
  return `${cluster}.${snapshotScope(trackedNodes)}`;
}

/** The envelope: one JSON header line, then the state's text. Synchronous: `state` is mutated in place by evolve. */
export function encodeSnapshot(cluster: string, trackedNodes: readonly string[] | undefined, state: ClusterState, version: number, now = new Date()): string {
  const body = snapshotOf(state);
  const header: Header = { format: FORMAT, schema: STATE_SNAPSHOT_SCHEMA, cluster, scope: snapshotScope(trackedNodes), version, sha256: sha256(body), writtenAt: now.toISOString() };
  return `${JSON.stringify(header)}\n${body}`;
}

export type DecodedSnapshot = { state: ClusterState; version: number } | { problem: string };

/** Checks everything the text itself can prove; the caller checks the version against the log. */
export function decodeSnapshot(text: string, cluster: string, trackedNodes: readonly string[] | undefined): DecodedSnapshot {
  const newline = text.indexOf('\n');
  if (newline < 0) return { problem: 'no header line' };
  let header: Partial<Header>;
  try {
    header = JSON.parse(text.slice(0, newline)) as Partial<Header>;
  } catch {
    return { problem: 'header is not JSON' };
  }
  const body = text.slice(newline + 1);
  if (header.format !== FORMAT) return { problem: `format ${JSON.stringify(header.format)}, expected ${FORMAT}` };
  if (header.schema !== STATE_SNAPSHOT_SCHEMA) return { problem: `state schema ${JSON.stringify(header.schema)} is not this build's (${STATE_SNAPSHOT_SCHEMA})` };
  if (header.cluster !== cluster) return { problem: `snapshot of cluster ${JSON.stringify(header.cluster)}, expected ${JSON.stringify(cluster)}` };
  if (header.scope !== snapshotScope(trackedNodes)) return { problem: 'snapshot of another view (tracked nodes differ)' };
  if (!Number.isSafeInteger(header.version) || header.version! < 1) return { problem: `bad version ${String(header.version)}` };
  if (header.sha256 !== sha256(body)) return { problem: 'checksum mismatch (corrupt snapshot)' };
  try {
    return { state: stateFromSnapshot(body), version: header.version! };
  } catch (err) {
    return { problem: (err as Error).message };
  }
}

/**
 * The snapshot to start from, or undefined (none, or one that cannot be trusted: reported through
 * `onProblem`). Trusted only if the subject's log still has a message at exactly the snapshot's
 * version: a snapshot of a stream that was since recreated, or from the future, is refused. A view
 * of some nodes with no usable snapshot of its own starts from the whole cluster's, narrowed.
 */
export async function loadSnapshot(
  store: ClusterEventStore,
  subject: string,
  cluster: string,
  trackedNodes: readonly string[] | undefined,
  snapshots: Snapshots,
): Promise<{ state: ClusterState; version: number } | undefined> {
  const scope = (nodes: readonly string[] | undefined) => loadScope({ store, subject, cluster, snapshots }, nodes);
  const own = await scope(trackedNodes);
  if (own || !trackedNodes) return own;
  const whole = await scope(undefined);
  return whole && { state: narrowToNodes(whole.state, trackedNodes), version: whole.version };
}

async function loadScope(
  { store, subject, cluster, snapshots }: { store: ClusterEventStore; subject: string; cluster: string; snapshots: Snapshots },
  trackedNodes: readonly string[] | undefined,
): Promise<{ state: ClusterState; version: number } | undefined> {
  const refuse = (why: string) => {
    snapshots.onProblem?.(`snapshot of ${cluster} (${snapshotScope(trackedNodes)}) not used, replaying the whole log: ${why}`);
    return undefined;
  };
  let text: string | undefined;
  try {
    text = await snapshots.blobs.read(snapshotKey(cluster, trackedNodes));
  } catch (err) {
    return refuse(`reading it failed: ${(err as Error).message}`);
  }
  if (text === undefined) return undefined;
  const decoded = decodeSnapshot(text, cluster, trackedNodes);
  if ('problem' in decoded) return refuse(decoded.problem);
  const atVersion = await store.readStream(subject, { from: decoded.version, to: decoded.version });
  const found = atVersion.messages.some((m) => m.sequence === decoded.version) || atVersion.malformed.some((m) => m.sequence === decoded.version);
  if (!found) return refuse(`the log has no message of ${subject} at sequence ${decoded.version} (version now ${atVersion.version})`);
  return decoded;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
