import type { EventBody } from '#contracts';
import type { LivenessCommand, Outcome, Rejection } from './commands';
import { policyAction, reportedSilent, watchedHost } from './liveness-rule';
import type { ClusterState } from './state';

const done = (events: EventBody[]): Outcome => ({ ok: true, decision: { events, needsFreshView: false, reply: { kind: 'none' } } });
const reject = (code: Rejection['code'], message: string): Outcome => ({ ok: false, rejection: { code, message } });

/**
 * A watcher's report that an identity's serving host went silent, or was heard again. Only
 * transitions are recorded: a report the log already holds appends nothing, so every coordinator
 * replica may watch and report, and the append's concurrency check keeps one.
 */
export function decideLiveness(c: LivenessCommand, s: ClusterState): Outcome {
  if (!s.members.has(c.identity)) return reject('NOT_MEMBER', `node ${c.identity} is not a cluster member`);
  if (c.type === 'heard') {
    return done(reportedSilent(s, c.identity, c.host) ? [{ type: 'MemberHeard', node: c.identity, host: c.host }] : []);
  }
  const config = s.config.liveness;
  if (!config) return reject('INVALID', 'dead-host detection is off for this cluster (configure liveness.deadAfterMs)');
  // The watcher measured a host that no longer serves the identity (a move it had not seen yet), or this report is already in the log.
  if (watchedHost(s, c.identity) !== c.host || reportedSilent(s, c.identity, c.host)) return done([]);
  if (c.silentForMs <= config.deadAfterMs) {
    return reject('NOT_YET', `host ${c.host} has been silent ${c.silentForMs} ms, not past deadAfter ${config.deadAfterMs} ms`);
  }
  const action = policyAction(config, c.identity, c.host, s);
  const silent: EventBody = {
    type: 'MemberSilent', node: c.identity, host: c.host, silentForMs: c.silentForMs, deadAfterMs: config.deadAfterMs, policy: config.policy,
    ...(action.refused !== undefined ? { policyRefused: action.refused.slice(0, 500) } : {}),
  };
  return done([silent, ...action.events]);
}
