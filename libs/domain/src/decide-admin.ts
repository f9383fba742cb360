import { DEFAULT_GRACE_CONFIG, EventBody, GraceConfig, GraceConfigChange, GraceConfigSchema, GraceEndReason, NodeId, zodProblemText } from '#contracts';
import { AdminCommand, Outcome, Decision, Rejection } from './commands';
import { graceDeadline } from './deadline';
import { decideLiveness } from './decide-liveness';
import { fenceMessage, fenceReason, knownHosts, Via } from './placement-rule';
import { allEnforcing, ClusterState, inGrace, membersNeeding, placementOf } from './state';

const done = (events: EventBody[]): Outcome => ({ ok: true, decision: { events, needsFreshView: false, reply: { kind: 'none' } } as Decision });
const reject = (code: Rejection['code'], message: string): Outcome => ({ ok: false, rejection: { code, message } });

export function decideAdmin(c: AdminCommand, s: ClusterState): Outcome {
  if (c.type === 'add') return add(c.nodes, c.config, s);
  if (!s.exists) return reject('NO_CLUSTER', 'cluster does not exist (add a node first)');
  switch (c.type) {
    case 'configure':
      return configure(c.config, s);
    case 'start':
      return (c.via && fenced(c.nodes, c.via, s)) || start(c.nodes, s, c.addMissing ?? false);
    case 'move':
      return move(c.identity, c.host, s);
    case 'join':
      return withMembers(c.nodes, s, () => (inGrace(s) ? start(c.nodes, s, false) : done([])));
    case 'enforce':
      return withMembers(c.nodes, s, (nodes) =>
        done(nodes.filter((n) => !s.members.get(n)!.enforcing).map((node) => ({ type: 'NodeEnforcing', node }))));
    case 'noenforce':
      return withMembers(c.nodes, s, (nodes) => {
        if (inGrace(s)) return reject('IN_GRACE', `cannot stop enforcing while grace period ${s.recoveryEpoch} is in force`);
        return done(nodes.filter((n) => s.members.get(n)!.enforcing).map((node) => ({ type: 'NodeEnforcementLifted', node })));
      });
    case 'lift':
      return withMembers(c.nodes, s, (nodes) => (c.via && fenced(nodes, c.via, s)) || lift(nodes, s));
    case 'remove':
      return withMembers(c.nodes, s, (nodes) => remove(nodes, s));
    case 'member':
      return withMembers(c.nodes, s, () => done([]));
    case 'end':
      if (!inGrace(s)) return reject('NOT_IN_GRACE', 'no grace period is in force');
      return done([graceEnded(s, 'admin', membersNeeding(s))]);
    case 'expire':
      return expire(c.now, s);
    case 'silent':
    case 'heard':
      return decideLiveness(c, s);
  }
}

function add(nodes: NodeId[], config: Partial<GraceConfig> | undefined, s: ClusterState): Outcome {
  if (nodes.length === 0) return reject('NO_NODES', 'Need at least one nodeid.');
  const events: EventBody[] = [];
  if (!s.exists) {
    const parsed = GraceConfigSchema.safeParse({ ...DEFAULT_GRACE_CONFIG, ...config });
    if (!parsed.success) return reject('INVALID', `invalid configuration: ${parsed.error.message}`);
    events.push({ type: 'ClusterConfigured', config: parsed.data });
  }
  for (const node of unique(nodes)) if (!s.members.has(node)) events.push({ type: 'MemberAdded', node });
  return done(events);
}

/** configure: the change over the configuration in force; `liveness` merges field by field, `null` turns it off. */
function configure(change: GraceConfigChange, s: ClusterState): Outcome {
  const { liveness, ...rest } = change;
  const merged: Record<string, unknown> = { ...s.config, ...rest };
  if (liveness === null) delete merged.liveness;
  else if (liveness !== undefined) merged.liveness = { policy: 'wait', ...s.config.liveness, ...liveness };
  const parsed = GraceConfigSchema.safeParse(merged);
  // One line an operator can act on, e.g. "liveness.deadAfterMs: Invalid input: expected number, received undefined".
  if (!parsed.success) return reject('INVALID', `invalid configuration: ${zodProblemText(parsed.error, 'config')}`);
  const standby = parsed.data.liveness?.policy === 'move' ? parsed.data.liveness.standby : undefined;
  if (standby !== undefined && !s.members.has(standby)) {
    return reject('NOT_MEMBER', `standby host ${standby} is not a cluster member (add it first: gracectl add ${standby})`);
  }
  const same = JSON.stringify(parsed.data) === JSON.stringify(s.config);
  return done(same ? [] : [{ type: 'ClusterConfigured', config: parsed.data }]);
}

/** start N…: a new grace period, or the nodes join the one in force (SPEC §2). */
export function start(nodes: NodeId[], s: ClusterState, addMissing: boolean): Outcome {
  if (nodes.length === 0) return reject('NO_NODES', 'Need at least one nodeid.');
  const listed = unique(nodes);
  const missing = listed.filter((n) => !s.members.has(n));
  if (missing.length > 0 && !addMissing) return notMember(missing);
  const events: EventBody[] = missing.map((node) => ({ type: 'MemberAdded', node }));
  if (!inGrace(s)) {
    events.push({ type: 'GraceStarted', recoveryEpoch: s.epoch, nodes: listed });
  } else {
    for (const node of listed) events.push({ type: 'NodeJoinedGrace', node, recoveryEpoch: s.recoveryEpoch });
  }
  return done(events);
}

/**
 * move I H: the identity is served by host H from now on, and enters recovery exactly as if it
 * had restarted (start or join, in the same decision), so its clients reclaim through H. The
 * placement generation grows, which fences every agent that acted for I before. Moving to the
 * host that serves it already changes nothing (a cluster manager may repeat a move).
 */
export function move(identity: NodeId, host: NodeId, s: ClusterState): Outcome {
  if (!s.members.has(identity)) return notMember([identity]);
  const hosts = knownHosts(s);
  if (!hosts.has(host)) {
    return reject('UNKNOWN_HOST', `host ${host} is not known (known hosts: ${[...hosts].sort().join(', ')}); a host is known as a member or as the host of one`);
  }
  const from = placementOf(s, identity);
  if (from.host === host) return done([]);
  const restart = start([identity], s, false);
  if (!restart.ok) return restart;
  const moved: EventBody = { type: 'IdentityMoved', node: identity, fromHost: from.host, toHost: host, generation: from.generation + 1 };
  return done([moved, ...restart.decision.events]);
}

/** An agent's grace_start or grace_done through a host that does not serve the identity is refused (I8). */
function fenced(nodes: NodeId[], via: Via, s: ClusterState): Outcome | undefined {
  const node = nodes.find((n) => fenceReason(s, n, via) !== undefined);
  return node === undefined ? undefined : reject('FENCED', fenceMessage(s, node, via));
}

/** lift N…: nothing while grace is in force and some member does not enforce yet. */
function lift(nodes: NodeId[], s: ClusterState): Outcome {
  if (inGrace(s) && !allEnforcing(s)) return done([]);
  const lifted = nodes.filter((n) => s.members.get(n)!.need);
  const events: EventBody[] = lifted.map((node) => ({ type: 'NeedLifted', node }));
  const stillNeeding = membersNeeding(s).filter((n) => !lifted.includes(n));
  if (inGrace(s) && stillNeeding.length === 0) events.push(graceEnded(s, 'all-reclaimed', []));
  return done(events);
}

/** remove N…: the nodes leave; if none of those remaining needs grace, the grace period ends. */
function remove(nodes: NodeId[], s: ClusterState): Outcome {
  const events: EventBody[] = nodes.map((node) => ({ type: 'MemberRemoved', node, abandoned: inGrace(s) && s.members.get(node)!.need }));
  if (inGrace(s)) {
    const remainingNeed = membersNeeding(s).filter((n) => !nodes.includes(n));
    if (remainingNeed.length === 0) {
      events.push(graceEnded(s, 'removed', membersNeeding(s).filter((n) => nodes.includes(n))));
    }
  }
  return done(events);
}

function expire(now: number, s: ClusterState): Outcome {
  const deadline = graceDeadline(s);
  if (!inGrace(s) || deadline === undefined) return reject('NOT_IN_GRACE', 'no grace period is in force');
  if (now < deadline) return reject('NOT_YET', `deadline ${new Date(deadline).toISOString()} not reached`);
  const needing = membersNeeding(s);
  if (s.config.deadlinePolicy === 'wait' && needing.length > 0) {
    return reject('WAIT_POLICY', `deadlinePolicy wait: ${needing.join(', ')} still need grace`);
  }
  return done([graceEnded(s, 'deadline', needing)]);
}

export function graceEnded(s: ClusterState, reason: GraceEndReason, abandonedNodes: NodeId[]): EventBody {
  return { type: 'GraceEnded', recoveryEpoch: s.recoveryEpoch, reason, abandonedNodes: [...abandonedNodes].sort() };
}

function withMembers(nodes: NodeId[], s: ClusterState, then: (nodes: NodeId[]) => Outcome): Outcome {
  if (nodes.length === 0) return reject('NO_NODES', 'Need at least one nodeid.');
  const listed = unique(nodes);
  const missing = listed.filter((n) => !s.members.has(n));
  return missing.length > 0 ? notMember(missing) : then(listed);
}

const notMember = (missing: NodeId[]): Outcome =>
  reject('NOT_MEMBER', `${missing.length === 1 ? 'node' : 'nodes'} ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not a cluster member`);

const unique = (nodes: NodeId[]): NodeId[] => [...new Set(nodes)];
