import type { DecisionMessage } from '#contracts';
import { checkReclaimsThroughServingHost } from './placement-check';
import { InvariantOracle } from '../../libs/domain/src/testing/invariant-oracle';
import { conflicts, Dlm, LockType } from './dlm';
import type { Observation, Observations } from './observations';
import { checkRefusalStatuses } from './refusal-statuses';

export { checkRefusalStatuses };

/**
 * After a run: judges what the clients observed and what the event log holds. Every function here
 * reads only observations and log messages (plus the DLM table for a sanity check), never the
 * simulator's or an agent's state, so a bug there cannot hide itself.
 */

export interface Violation {
  check: string;
  message: string;
}

export interface RunInput {
  observations: Observations;
  /** The cluster subject's decisions, in log order. */
  log: DecisionMessage[];
  graceTimeMs: number;
  dlm?: Dlm;
}

export function checkRun(input: RunInput): Violation[] {
  const obs = input.observations.list;
  return [
    ...checkBeliefs(obs),
    ...checkLogInvariants(input.log, input.graceTimeMs),
    ...checkRefusalStatuses(input.log),
    ...checkAgentReplyStatuses(obs),
    ...checkAcknowledgedInLog(obs, input.log),
    ...checkRefusalsInLog(obs, input.log),
    ...checkReclaimsThroughServingHost(obs, input.log),
    ...checkNoReclaimAfterObservedGrant(obs),
    ...(input.dlm ? checkDlm(input.dlm) : []),
  ];
}

// ---- 1. no two clients ever believed they held conflicting locks at the same time ----

interface Belief {
  lineage: number;
  client: string;
  file: string;
  type: LockType;
  start: number;
  end: number;
  tentativeSince?: number;
  closed: boolean;
}

/**
 * Each lineage is one interval of ticks [grant heard, belief ended). A tentative stretch (contact
 * lost) counts as held when a renewal or reclaim later confirmed it, and is cut off at the moment
 * contact was lost when the client learned the lock was gone (or the run ended first). A reclaim
 * accepted for a lock someone else held in between is therefore caught here: that is what RFC 7530
 * §9.6.3.4's edge conditions are about.
 */
export function beliefIntervals(obs: Observation[]): (Belief & { range: { start: number; end: number } })[] {
  const beliefs = new Map<number, Belief & { range: { start: number; end: number } }>();
  const byClient = new Map<string, Set<number>>();
  const close = (b: Belief, end: number) => {
    if (b.closed) return;
    b.end = b.tentativeSince ?? end;
    b.closed = true;
    byClient.get(b.client)?.delete(b.lineage);
  };
  for (const o of obs) {
    switch (o.kind) {
      case 'lineage-start':
        beliefs.set(o.lineage, { lineage: o.lineage, client: o.client, file: o.file, type: o.type, range: o.range, start: o.tick, end: Infinity, closed: false });
        (byClient.get(o.client) ?? byClient.set(o.client, new Set()).get(o.client)!).add(o.lineage);
        break;
      case 'contact-lost':
        for (const l of byClient.get(o.client) ?? []) {
          const b = beliefs.get(l)!;
          b.tentativeSince ??= o.tick;
        }
        break;
      case 'confirmed':
        for (const l of o.lineages) {
          const b = beliefs.get(l);
          if (b && !b.closed) b.tentativeSince = undefined;
        }
        break;
      case 'lineage-reclaimed': {
        const b = beliefs.get(o.lineage);
        if (b && !b.closed) b.tentativeSince = undefined;
        break;
      }
      case 'lineage-lost':
      case 'lineage-released': {
        const b = beliefs.get(o.lineage);
        if (b) close(b, o.tick);
        break;
      }
    }
  }
  for (const b of beliefs.values()) if (!b.closed) b.end = b.tentativeSince ?? Infinity;
  return [...beliefs.values()];
}

export function checkBeliefs(obs: Observation[]): Violation[] {
  const violations: Violation[] = [];
  const byFile = new Map<string, ReturnType<typeof beliefIntervals>>();
  for (const b of beliefIntervals(obs)) {
    if (b.end <= b.start) continue;
    (byFile.get(b.file) ?? byFile.set(b.file, []).get(b.file)!).push(b);
  }
  for (const list of byFile.values()) {
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const a = list[i];
        const b = list[j];
        if (!conflicts({ ...a, ...a.range }, { ...b, ...b.range })) continue;
        if (a.start < b.end && b.start < a.end) {
          violations.push({
            check: 'conflicting-beliefs',
            message: `client ${a.client} (lock ${a.lineage}, ${a.type} ${a.file}[${a.range.start},${a.range.end}) ticks ${a.start}-${a.end}) and client ${b.client} (lock ${b.lineage}, ${b.type} ${b.file}[${b.range.start},${b.range.end}) ticks ${b.start}-${b.end}) both believed they held conflicting locks`,
          });
        }
      }
    }
  }
  return violations;
}

// ---- 2. I1-I7 over the log, through the domain's independent oracle ----

export function checkLogInvariants(log: DecisionMessage[], graceTimeMs: number): Violation[] {
  // The oracle is given the grace time of the cluster's configuration (I7: never ended early).
  const configured = log.flatMap((m) => m.events).find((e) => e.type === 'ClusterConfigured');
  const oracle = new InvariantOracle({ graceTimeMs: configured?.type === 'ClusterConfigured' ? configured.config.graceTimeMs : graceTimeMs });
  let lastTime = 0;
  for (const [i, m] of log.entries()) {
    const now = Math.max(...m.events.map((e) => Date.parse(e.time)));
    if (now < lastTime) {
      // Not an invariant (clocks may differ between writers) but worth knowing when reading a failure.
    }
    lastTime = Math.max(lastTime, now);
    try {
      oracle.observe(m.events, now);
    } catch (err) {
      return [{ check: 'log-invariant', message: `decision ${i + 1} (${m.events.map((e) => e.type).join(', ')}): ${(err as Error).message}` }];
    }
  }
  return [];
}

// ---- 3. every refusal recorded in the log carries the status SPEC §2 gives it: refusal-statuses.ts ----

// ---- 4. every agent reply is one of the statuses SPEC §4.1 lists for its op ----

/**
 * SPEC §4.1's statuses per op. An op that must store something before it answers may also say
 * NFS4ERR_DELAY ("retry later") when the event store does not answer in time: SPEC §4.1 lists no
 * failure status for them, and anything else would promise what is not stored. `reclaim` and
 * `may_grant` say NFS4ERR_GRACE instead, which is in their lists.
 */
const ALLOWED: Record<string, string[]> = {
  hello: ['OK'],
  grace_start: ['OK', 'NFS4ERR_DELAY'],
  create: ['OK', 'NFS4ERR_DELAY'],
  remove: ['OK', 'NFS4ERR_DELAY'],
  check: ['OK', 'NFS4ERR_RECLAIM_BAD', 'NFS4ERR_DELAY'],
  reclaim: ['OK', 'NFS4ERR_GRACE', 'NFS4ERR_NO_GRACE', 'NFS4ERR_RECLAIM_BAD'],
  reclaim_complete: ['OK', 'NFS4ERR_COMPLETE_ALREADY', 'NFS4ERR_NO_GRACE', 'NFS4ERR_DELAY'],
  grace_done: ['OK', 'NFS4ERR_DELAY'],
  may_grant: ['OK', 'NFS4ERR_GRACE'],
  status: ['OK'],
};

export function checkAgentReplyStatuses(obs: Observation[]): Violation[] {
  const violations: Violation[] = [];
  for (const o of obs) {
    if (o.kind !== 'agent-reply' || o.status === 'ERR_AGENT') continue;
    // A fenced agent (its host does not serve the identity, I8) says "retry later" to any op.
    const allowed = o.fenced ? [...(ALLOWED[o.op] ?? []), 'NFS4ERR_DELAY'] : ALLOWED[o.op];
    if (allowed && !allowed.includes(o.status)) {
      violations.push({ check: 'agent-status', message: `${o.server}: ${o.op}${o.client ? ` ${o.client}` : ''} answered ${o.status} (SPEC §4.1 allows ${allowed.join(', ')})` });
    }
  }
  return violations;
}

// ---- 5. I6 at the edge: what an agent acknowledged is in the log ----

export function checkAcknowledgedInLog(obs: Observation[], log: DecisionMessage[]): Violation[] {
  const recorded = new Set<string>();
  const reclaimed = new Set<string>();
  for (const m of log) {
    for (const e of m.events) {
      if (e.type === 'ClientRecorded') for (const r of e.clients) recorded.add(`${e.node}/${r.client}`);
      if (e.type === 'ReclaimAccepted') for (const x of e.clients) reclaimed.add(`${e.node}/${x}`);
    }
  }
  const violations: Violation[] = [];
  for (const o of obs) {
    if (o.kind !== 'agent-reply' || o.status !== 'OK' || !o.client) continue;
    const key = `${o.server}/${o.client}`;
    if (o.op === 'create' && !recorded.has(key) && !reclaimed.has(key)) {
      violations.push({ check: 'I6', message: `${o.server} acknowledged create of ${o.client} but the log never recorded it` });
    }
    if (o.op === 'reclaim' && !reclaimed.has(key)) {
      violations.push({ check: 'I6', message: `${o.server} acknowledged a reclaim by ${o.client} but the log holds no ReclaimAccepted for it` });
    }
  }
  return violations;
}

// ---- 5a. I8: a reclaim is accepted only through the host serving the identity: placement-check.ts ----

// ---- 5b. every final refusal an agent gave inside grace is in the log, where check 3 judged its status ----

/**
 * NO_GRACE, RECLAIM_BAD and COMPLETE_ALREADY are final answers: inside a grace period each must be
 * recorded as a `ReclaimRejected` with the same status (so check 3 has verified it against SPEC
 * §2). Outside grace refusals are not stored (noise, libs/domain `refusalsRecorded`): there the
 * rule can only answer a reclaim NO_GRACE and a repeated RECLAIM_COMPLETE COMPLETE_ALREADY, so
 * only those may lack a record. Whether such a reply was decided inside grace cannot be told from
 * here (observations and the log share no clock); the domain's tests show that inside grace they
 * are stored. A RECLAIM_BAD is a grace-only answer: it must always be recorded.
 * GRACE is "retry later" and may be answered without a record (e.g. while the agent cannot reach NATS).
 */
export function checkRefusalsInLog(obs: Observation[], log: DecisionMessage[]): Violation[] {
  const recorded = new Set<string>();
  for (const m of log) {
    for (const e of m.events) {
      if (e.type === 'ReclaimRejected') for (const r of e.rejections) recorded.add(`${e.node}/${r.client}/${r.op}/${r.status}`);
    }
  }
  const outsideGraceAnswer = (op: string, status: string) =>
    (op === 'reclaim' && status === 'NFS4ERR_NO_GRACE') || (op === 'reclaim_complete' && status === 'NFS4ERR_COMPLETE_ALREADY');
  const violations: Violation[] = [];
  for (const o of obs) {
    if (o.kind !== 'agent-reply' || !o.client || (o.op !== 'reclaim' && o.op !== 'reclaim_complete')) continue;
    if (!['NFS4ERR_NO_GRACE', 'NFS4ERR_RECLAIM_BAD', 'NFS4ERR_COMPLETE_ALREADY'].includes(o.status)) continue;
    if (!recorded.has(`${o.server}/${o.client}/${o.op}/${o.status}`) && !outsideGraceAnswer(o.op, o.status)) {
      violations.push({ check: 'refusal-unrecorded', message: `${o.server} refused ${o.op} by ${o.client} with ${o.status}, which the log does not record` });
    }
  }
  return violations;
}

// ---- 6. I1 as the servers saw it ----

/**
 * If a server heard `may_grant` OK for a request it sent after some server had heard that grace
 * period R started, then no reclaim of R sent after that OK may be accepted: in log order the
 * grant comes after R started and before the reclaim (real-time causality).
 */
export function checkNoReclaimAfterObservedGrant(obs: Observation[]): Violation[] {
  const violations: Violation[] = [];
  const firstHeard = new Map<number, number>(); // R -> tick a grace_start reply with R was first heard
  const lastGraceStart = new Map<string, number[]>(); // server -> [tick, R]
  const graceOf = new Map<string, { tick: number; R: number }[]>();
  for (const o of obs) {
    if (o.kind === 'grace-start' && o.recoveryEpoch > 0) {
      if (!firstHeard.has(o.recoveryEpoch)) firstHeard.set(o.recoveryEpoch, o.tick);
      (graceOf.get(o.server) ?? graceOf.set(o.server, []).get(o.server)!).push({ tick: o.tick, R: o.recoveryEpoch });
      lastGraceStart.set(o.server, [o.tick, o.recoveryEpoch]);
    }
  }
  const grants = obs.filter((o): o is Extract<Observation, { kind: 'grant-allowed' }> => o.kind === 'grant-allowed');
  for (const o of obs) {
    if (o.kind !== 'agent-reply' || o.op !== 'reclaim' || o.status !== 'OK') continue;
    const starts = (graceOf.get(o.server) ?? []).filter((g) => g.tick < o.sentTick);
    const R = starts.at(-1)?.R;
    if (R === undefined) continue;
    const heard = firstHeard.get(R)!;
    const grant = grants.find((g) => g.sentTick > heard && g.tick < o.sentTick);
    if (grant) {
      violations.push({ check: 'I1-observed', message: `${o.server} had a reclaim by ${o.client} of grace ${R} accepted (sent at tick ${o.sentTick}) after ${grant.server} was allowed to grant non-reclaim state (tick ${grant.tick}) in that grace period` });
    }
  }
  return violations;
}

// ---- 7. the simulator's own sanity: the DLM never holds two conflicting locks ----

export function checkDlm(dlm: Dlm): Violation[] {
  return dlm.conflictingPairs().map(([a, b]) => ({ check: 'dlm', message: `DLM holds conflicting locks ${a.id} (${a.client}) and ${b.id} (${b.client})` }));
}

export function formatViolations(violations: Violation[]): string {
  return violations.map((v) => `[${v.check}] ${v.message}`).join('\n');
}
