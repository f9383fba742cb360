import { GkEvent, GraceEndReason } from '#contracts';
import { DroppedRecord, EvolveEffect } from './effects';
import { ClusterState, isTracked, nodeRecords } from './state';

/**
 * Applies one event to the cluster state, in place, and returns it. Total: any well-formed event
 * in any order is applied without throwing, because the log is the truth and a replay must
 * never stop on what a (possibly buggy) writer appended.
 *
 * With `effects`, what the event did to the client records is appended to it (see EvolveEffect):
 * a caller that keeps one array and empties it per event pays nothing per event; a fold passes
 * none and pays nothing at all.
 */
export function evolve(s: ClusterState, e: GkEvent, effects?: EvolveEffect[]): ClusterState {
  const at = Date.parse(e.time);
  s.eventsApplied += 1;
  switch (e.type) {
    case 'ClusterConfigured':
      s.exists = true;
      s.cluster = e.cluster;
      s.config = { ...e.config };
      break;
    case 'MemberAdded':
      s.exists = true;
      s.cluster = e.cluster;
      if (!s.members.has(e.node)) s.members.set(e.node, { need: false, enforcing: true });
      break;
    case 'MemberRemoved':
      s.members.delete(e.node);
      s.silent.delete(e.node);
      break;
    case 'NodeEnforcing':
      setFlag(s, e.node, 'enforcing', true);
      break;
    case 'NodeEnforcementLifted':
      setFlag(s, e.node, 'enforcing', false);
      break;
    case 'GraceStarted':
      s.recoveryEpoch = e.recoveryEpoch;
      s.epoch = e.epoch;
      s.grace = { startedAt: at, lastJoinAt: at, reclaimsAccepted: 0 };
      s.nonReclaimGranted = false;
      for (const node of e.nodes) restartNode(s, node, at, e.recoveryEpoch, effects);
      break;
    case 'NodeJoinedGrace':
      if (s.grace) s.grace.lastJoinAt = Math.max(s.grace.lastJoinAt, at);
      restartNode(s, e.node, at, e.recoveryEpoch, effects);
      break;
    case 'NeedLifted':
      setFlag(s, e.node, 'need', false);
      break;
    case 'GraceEnded':
      endGrace(s, e.recoveryEpoch, e.reason, at, e.abandonedNodes, effects);
      break;
    case 'ClientRecorded':
      if (!isTracked(s, e.node)) break;
      for (const ref of e.clients) {
        const current = nodeRecords(s, e.node).current;
        const existing = current.get(ref.client);
        current.set(ref.client, {
          epoch: existing?.epoch ?? s.epoch,
          principalHash: ref.principalHash ?? existing?.principalHash,
          hasSession: ref.hasSession ?? existing?.hasSession,
        });
      }
      break;
    case 'ClientRemoved': {
      if (!isTracked(s, e.node)) break;
      const dropped: DroppedRecord[] = [];
      for (const client of e.clients) {
        const r = nodeRecords(s, e.node);
        const epoch = (r.current.get(client) ?? r.recovery?.get(client))?.epoch;
        if (epoch !== undefined) dropped.push({ client, epoch });
        r.current.delete(client);
        r.recovery?.delete(client);
        r.completed.delete(client);
      }
      if (effects && dropped.length) effects.push({ type: 'RecordsDropped', node: e.node, reason: 'removed', records: dropped });
      break;
    }
    case 'ReclaimAccepted':
      if (s.grace) {
        s.grace.reclaimsAccepted += e.clients.length;
        s.grace.lastReclaimAt = Math.max(s.grace.lastReclaimAt ?? 0, at);
      }
      if (!isTracked(s, e.node)) break;
      for (const client of e.clients) {
        const r = nodeRecords(s, e.node);
        if (r.current.has(client)) continue;
        const old = r.recovery?.get(client);
        r.current.set(client, { epoch: s.epoch, principalHash: old?.principalHash, hasSession: old?.hasSession });
      }
      break;
    case 'ReclaimCompleted':
      if (!isTracked(s, e.node)) break;
      for (const client of e.clients) nodeRecords(s, e.node).completed.add(client);
      break;
    case 'FirstNonReclaimGrant':
      s.nonReclaimGranted = true;
      break;
    case 'IdentityMoved':
      s.placements.set(e.node, { host: e.toHost, generation: e.generation });
      // A new host serves it: its liveness is that host's, watched afresh.
      s.silent.delete(e.node);
      break;
    case 'MemberSilent':
      s.silent.set(e.node, { host: e.host, reportedAt: at, silentForMs: e.silentForMs });
      break;
    case 'MemberHeard':
      if (s.silent.get(e.node)?.host === e.host) s.silent.delete(e.node);
      break;
    case 'ReclaimRejected':
    case 'ClientRecordsInvalidated':
      break; // audit facts: they record what was answered or derived, and change nothing
  }
  return s;
}

/**
 * A node (re)started inside grace: every record it holds becomes one to reclaim. On its first
 * start in this grace period those are the records it had (carried over); on a restart during
 * the same grace period the recovery set is kept and the records written since (reclaims and
 * clients created during grace) join it, as nfsdcltrack treats every reboot: nothing that was
 * acknowledged vanishes (I6), the reclaims made since are forgotten with the server's memory,
 * and whatever is not reclaimed again is dropped when grace ends (I4).
 */
function restartNode(s: ClusterState, node: string, at: number, recoveryEpoch: number, effects?: EvolveEffect[]): void {
  const member = s.members.get(node);
  if (member) Object.assign(member, { need: true, enforcing: true, graceStartedAt: at });
  if (!isTracked(s, node)) return;
  const r = nodeRecords(s, node);
  const recovery = r.recovery ?? new Map();
  for (const [client, rec] of r.current) if (!recovery.has(client)) recovery.set(client, rec);
  effects?.push({ type: 'NodeRestarted', node, recoveryEpoch, moved: r.current, completedForgotten: r.completed });
  r.recovery = recovery;
  r.current = new Map();
  r.completed = new Set();
}

function endGrace(s: ClusterState, recoveryEpoch: number, reason: GraceEndReason, at: number, abandonedNodes: string[], effects?: EvolveEffect[]): void {
  s.recoveryEpoch = 0;
  s.grace = undefined;
  s.lastGraceEnd = { recoveryEpoch, reason, at, abandonedNodes };
  for (const m of s.members.values()) m.need = false;
  if (effects) reportGraceEnd(s, reason, effects);
  // I4: records of epoch R that were not reclaimed (in `recovery` but not in `current`) go now.
  for (const r of s.records.values()) r.recovery = undefined;
}

/** The recovery sets a grace end closes and, per node in sorted order, the records it drops. */
function reportGraceEnd(s: ClusterState, reason: GraceEndReason, effects: EvolveEffect[]): void {
  for (const node of [...s.records.keys()].sort()) {
    const r = s.records.get(node)!;
    if (!r.recovery) continue;
    effects.push({ type: 'RecoveryClosed', node, records: r.recovery });
    const dropped: DroppedRecord[] = [];
    for (const [client, rec] of r.recovery) if (!r.current.has(client)) dropped.push({ client, epoch: rec.epoch });
    if (dropped.length) effects.push({ type: 'RecordsDropped', node, reason, records: dropped.sort(byClient) });
  }
}

const byClient = (a: DroppedRecord, b: DroppedRecord): number => (a.client < b.client ? -1 : a.client > b.client ? 1 : 0);

function setFlag(s: ClusterState, node: string, flag: 'need' | 'enforcing', value: boolean): void {
  const m = s.members.get(node);
  if (m) m[flag] = value;
}

/** `evolve` for one event, returning what it did to the client records. */
export function evolveWithEffects(s: ClusterState, e: GkEvent): EvolveEffect[] {
  const effects: EvolveEffect[] = [];
  evolve(s, e, effects);
  return effects;
}

export function evolveAll(s: ClusterState, events: Iterable<GkEvent>): ClusterState {
  for (const e of events) evolve(s, e);
  return s;
}
