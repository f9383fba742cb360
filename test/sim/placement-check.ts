import type { DecisionMessage } from '#contracts';
import type { Violation } from './checker';
import type { Observation } from './observations';

/**
 * Every reclaim a server heard OK for must be in the log as accepted for that identity while the
 * log placed the identity on the host whose agent answered (its own-name host until an
 * `IdentityMoved`). The placement is rebuilt here from the moves in log order, not taken from
 * the decider's state or the event's own `host` field.
 */
export function checkReclaimsThroughServingHost(obs: Observation[], log: DecisionMessage[]): Violation[] {
  const placedOn = new Map<string, string>();
  const acceptedThrough = new Map<string, Set<string>>();
  for (const m of log) {
    for (const e of m.events) {
      if (e.type === 'IdentityMoved') placedOn.set(e.node, e.toHost);
      if (e.type !== 'ReclaimAccepted') continue;
      const host = placedOn.get(e.node) ?? e.node;
      for (const x of e.clients) (acceptedThrough.get(`${e.node}/${x}`) ?? acceptedThrough.set(`${e.node}/${x}`, new Set()).get(`${e.node}/${x}`)!).add(host);
    }
  }
  const violations: Violation[] = [];
  for (const o of obs) {
    if (o.kind !== 'agent-reply' || o.op !== 'reclaim' || o.status !== 'OK' || !o.client) continue;
    const host = o.host ?? o.server;
    const hosts = acceptedThrough.get(`${o.server}/${o.client}`);
    if (!hosts?.has(host)) {
      violations.push({ check: 'I8', message: `${o.client} heard its reclaim for ${o.server} accepted through host ${host}, but the log accepted it only through ${hosts ? [...hosts].join(', ') : 'no host'} (the host serving ${o.server} at that point)` });
    }
  }
  return violations;
}
