import { ClientId, EventBody, ReclaimCompleteStatus, ReclaimStatus } from '#contracts';
import { Outcome, NodeCommand, type OwnGraceMeasure } from './commands';
import { graceEnded } from './decide-admin';
import { nodeGraceOver } from './deadline';
import { fenceMessage, fenceReason, ownHost } from './placement-rule';
import { reclaimCompleteReason, reclaimStatus } from './reclaim-rule';
import { ClusterState, inGrace, membersNeeding } from './state';

/**
 * Is a refusal worth an event? Inside a grace period yes: who was refused what, and why, is what
 * an audit of that recovery asks. Outside grace every reclaim is refused with NO_GRACE by the
 * first clause of the rule and a repeated RECLAIM_COMPLETE changes nothing: storing those would
 * grow the log with noise (the agent counts them in its metrics instead).
 */
export const refusalsRecorded = (s: ClusterState): boolean => inGrace(s);

const noCluster: Outcome = { ok: false, rejection: { code: 'NO_CLUSTER', message: 'cluster does not exist (add a node first)' } };

export function decideNode(c: NodeCommand, s: ClusterState): Outcome {
  if (!s.exists) return noCluster;
  const via = c.via ?? ownHost(c.node);
  // I8: only the host serving the identity at this point of the log acts for it.
  if (fenceReason(s, c.node, via)) return { ok: false, rejection: { code: 'FENCED', message: fenceMessage(s, c.node, via) } };
  switch (c.type) {
    case 'create': {
      const current = s.records.get(c.node)?.current;
      // An unchanged record is already durable in the log: nothing to append.
      const changed = c.clients.filter((ref) => {
        const rec = current?.get(ref.client);
        return !rec || (ref.principalHash !== undefined && ref.principalHash !== rec.principalHash)
          || (ref.hasSession !== undefined && ref.hasSession !== rec.hasSession);
      });
      return ok(changed.length ? [{ type: 'ClientRecorded', node: c.node, clients: dedupeRefs(changed) }] : []);
    }
    case 'removeClients': {
      const r = s.records.get(c.node);
      const known = unique(c.clients).filter((x) => r?.current.has(x) || r?.recovery?.has(x) || r?.completed.has(x));
      return ok(known.length ? [{ type: 'ClientRemoved', node: c.node, clients: known }] : []);
    }
    case 'reclaim':
      return reclaim(c.node, c.clients, s, via.host);
    case 'reclaimComplete':
      return reclaimComplete(c.node, c.clients, s);
    case 'mayGrant':
      return mayGrant(c.node, c.now, c.ownGrace, s);
  }
}

function reclaim(node: string, clients: ClientId[], s: ClusterState, host: string): Outcome {
  const statuses = clients.map((client) => reclaimStatus(s, node, client));
  const accepted = unique(clients.filter((_, i) => statuses[i] === 'OK'));
  const rejected = clients
    .map((client, i) => ({ client, status: statuses[i] }))
    .filter((x): x is { client: string; status: Exclude<ReclaimStatus, 'OK'> } => x.status !== 'OK')
    .map((x) => ({ ...x, op: 'reclaim' as const }));
  const events: EventBody[] = [];
  // The host is named only when it is not the identity's own: the simple case's events are unchanged.
  if (accepted.length) events.push({ type: 'ReclaimAccepted', node, recoveryEpoch: s.recoveryEpoch, clients: accepted, ...(host !== node ? { host } : {}) });
  if (rejected.length && refusalsRecorded(s)) events.push({ type: 'ReclaimRejected', node, rejections: rejected });
  // A refusal that is not stored has no append to fail on a stale view (a grace period or a move
  // the view has not seen yet): it too is confirmed against the log before it is answered.
  const unrecordedRefusal = rejected.length > 0 && !refusalsRecorded(s);
  return { ok: true, decision: { events, needsFreshView: accepted.length > 0 || unrecordedRefusal, reply: { kind: 'reclaim', statuses } } };
}

function reclaimComplete(node: string, clients: ClientId[], s: ClusterState): Outcome {
  const seen = new Set<ClientId>();
  const statuses: ReclaimCompleteStatus[] = clients.map((client) => {
    // A client named twice in one batch completes once: the second is a repeat too.
    if (reclaimCompleteReason(s, node, client) === 'already-completed' || seen.has(client)) return 'NFS4ERR_COMPLETE_ALREADY';
    seen.add(client);
    return 'OK';
  });
  const events: EventBody[] = [];
  if (seen.size) events.push({ type: 'ReclaimCompleted', node, clients: [...seen] });
  const again = clients.filter((_, i) => statuses[i] !== 'OK');
  if (again.length && refusalsRecorded(s)) {
    events.push({ type: 'ReclaimRejected', node, rejections: again.map((client) => ({ client, status: 'NFS4ERR_COMPLETE_ALREADY' as const, op: 'reclaim_complete' as const })) });
  }
  // As for reclaims: a refusal that is not stored is confirmed against the log before it is answered.
  return { ok: true, decision: { events, needsFreshView: again.length > 0 && !refusalsRecorded(s), reply: { kind: 'reclaimComplete', statuses } } };
}

/**
 * May this node grant non-reclaim state now? Never while grace is in force (I2), except under
 * `first-exit` for a node with nothing left to recover whose own grace time has passed: then the
 * grant itself ends recovery for the whole cluster, in the same decision (I1).
 */
function mayGrant(node: string, now: number, measured: OwnGraceMeasure | undefined, s: ClusterState): Outcome {
  const grant = (events: EventBody[], endsGrace: boolean): Outcome =>
    ({ ok: true, decision: { events, needsFreshView: true, reply: { kind: 'mayGrant', status: 'OK', endsGrace } } });
  const refuse: Outcome = { ok: true, decision: { events: [], needsFreshView: false, reply: { kind: 'mayGrant', status: 'NFS4ERR_GRACE', endsGrace: false } } };
  const member = s.members.get(node);
  if (!member) return refuse;
  if (!inGrace(s)) return grant(s.nonReclaimGranted ? [] : [{ type: 'FirstNonReclaimGrant', node }], false);
  if (s.config.exitPolicy !== 'first-exit' || member.need || !nodeGraceOver(s, node, now, measured)) return refuse;
  return grant([{ type: 'FirstNonReclaimGrant', node }, graceEnded(s, 'first-non-reclaim-grant', membersNeeding(s))], true);
}

function ok(events: EventBody[]): Outcome {
  return { ok: true, decision: { events, needsFreshView: false, reply: { kind: 'none' } } };
}

const unique = <T>(xs: T[]): T[] => [...new Set(xs)];

function dedupeRefs<T extends { client: string }>(refs: T[]): T[] {
  const byClient = new Map<string, T>();
  for (const ref of refs) byClient.set(ref.client, ref);
  return [...byClient.values()];
}
