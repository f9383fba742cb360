import type { DecisionMessage, GkEvent } from '#contracts';
import type { Violation } from './checker';

/**
 * A second, independent reading of SPEC §2's reclaim rule: replays the log and, for every
 * `ReclaimRejected`, computes the status the rule gives on the state before that decision.
 * Deliberately written without the domain's code (an oracle that shares the rules' code shares
 * their bugs).
 */
export function checkRefusalStatuses(log: DecisionMessage[]): Violation[] {
  const violations: Violation[] = [];
  let R = 0;
  const members = new Map<string, { need: boolean; enforcing: boolean }>();
  const cur = new Map<string, Set<string>>();
  let validR = new Map<string, Set<string>>();
  const completed = new Map<string, Set<string>>();
  const set = (m: Map<string, Set<string>>, n: string) => m.get(n) ?? m.set(n, new Set()).get(n)!;
  /**
   * SPEC §2 with nfsdcltrack's reboot semantics: a (re)start inside grace makes every record the
   * node holds one to reclaim. On a grace period's first start that is the snapshot of `cur`; on
   * a restart inside the same grace period, what the node recorded since (fresh creates and
   * reclaims) joins its valid records of R: nothing acknowledged is lost.
   */
  const restart = (n: string) => {
    const m = members.get(n);
    if (m) Object.assign(m, { need: true, enforcing: true });
    for (const x of cur.get(n) ?? []) set(validR, n).add(x);
    cur.set(n, new Set());
    completed.set(n, new Set());
  };
  const expected = (node: string, client: string): string => {
    if (R === 0) return 'NFS4ERR_NO_GRACE';
    if (![...members.values()].every((m) => m.enforcing)) return 'NFS4ERR_GRACE';
    if (!members.get(node)?.need) return 'NFS4ERR_NO_GRACE';
    if (completed.get(node)?.has(client)) return 'NFS4ERR_NO_GRACE';
    if (!validR.get(node)?.has(client)) return 'NFS4ERR_RECLAIM_BAD';
    return 'OK';
  };
  for (const [i, m] of log.entries()) {
    const completedHere = new Set(m.events.flatMap((e) => (e.type === 'ReclaimCompleted' ? e.clients.map((c) => `${e.node}/${c}`) : [])));
    // Judge every refusal on the state before the decision (that is what it was decided on).
    for (const e of m.events) {
      if (e.type !== 'ReclaimRejected') continue;
      for (const r of e.rejections) {
        if (r.op === 'reclaim') {
          const want = expected(e.node, r.client);
          if (want !== r.status) violations.push({ check: 'refusal-status', message: `decision ${i + 1}: reclaim by ${r.client} on ${e.node} refused ${r.status}, SPEC §2 gives ${want}` });
        } else {
          const already = completed.get(e.node)?.has(r.client) || completedHere.has(`${e.node}/${r.client}`);
          if (r.status !== 'NFS4ERR_COMPLETE_ALREADY' || !already) {
            violations.push({ check: 'refusal-status', message: `decision ${i + 1}: reclaim_complete by ${r.client} on ${e.node} refused ${r.status} without an earlier RECLAIM_COMPLETE` });
          }
        }
      }
    }
    for (const e of m.events) applyForStatuses(e);
  }
  return violations;

  function applyForStatuses(e: GkEvent): void {
    switch (e.type) {
      case 'MemberAdded': if (!members.has(e.node)) members.set(e.node, { need: false, enforcing: true }); break;
      case 'MemberRemoved': members.delete(e.node); break;
      case 'NodeEnforcing': if (members.get(e.node)) members.get(e.node)!.enforcing = true; break;
      case 'NodeEnforcementLifted': if (members.get(e.node)) members.get(e.node)!.enforcing = false; break;
      case 'GraceStarted':
        R = e.recoveryEpoch;
        validR = new Map([...cur].map(([n, s]) => [n, new Set(s)]));
        for (const n of e.nodes) restart(n);
        break;
      case 'NodeJoinedGrace': restart(e.node); break;
      case 'NeedLifted': if (members.get(e.node)) members.get(e.node)!.need = false; break;
      case 'GraceEnded':
        R = 0;
        validR = new Map();
        for (const mm of members.values()) mm.need = false;
        break;
      case 'ClientRecorded': for (const r of e.clients) set(cur, e.node).add(r.client); break;
      case 'ClientRemoved':
        for (const x of e.clients) { set(cur, e.node).delete(x); validR.get(e.node)?.delete(x); completed.get(e.node)?.delete(x); }
        break;
      case 'ReclaimAccepted': for (const x of e.clients) set(cur, e.node).add(x); break;
      case 'ReclaimCompleted': for (const x of e.clients) set(completed, e.node).add(x); break;
      default: break;
    }
  }
}
