import type { EventBody, LivenessConfig, NodeId } from '#contracts';
import { start, move } from './decide-admin';
import { ClusterState, placementOf } from './state';

/**
 * Dead-host detection (SPEC §2 liveness): the rules, pure. The coordinator only measures (when it
 * last heard each serving host, on its clocks) and asks; what counts as silent and what the
 * cluster's policy makes of it are decided here.
 */

/** When a host was last heard (or first watched), on both of the watcher's clocks. */
export interface HeardAt {
  /** Wall clock, ms since the epoch. */
  wall: number;
  /** Monotonic clock, ms. */
  mono: number;
}

/**
 * How long the host has been silent, or undefined while it is not (yet) past `deadAfterMs`.
 * I7: a clock may only make Gracekeeper act later. The silence is the shorter of what the two
 * clocks measured: a wall clock stepped forward (or running fast) cannot report a host early,
 * because the monotonic measure must also say so; a wall clock stepped back only delays it.
 */
export function silentFor(last: HeardAt, now: HeardAt, deadAfterMs: number): number | undefined {
  const measured = Math.min(now.mono - last.mono, now.wall - last.wall);
  return measured > deadAfterMs ? Math.floor(measured) : undefined;
}

/** What a policy does for a silent identity: the events after `MemberSilent`, or why it does nothing. */
export interface PolicyAction {
  events: EventBody[];
  refused?: string;
}

/**
 * The cluster's liveness policy for identity `identity`, silent on `host` (its serving host):
 * - `wait`: nothing (an operator or cluster manager acts);
 * - `start-grace`: the identity restarts in the log at once (start or join grace): no member
 *   grants non-reclaim state until its clients had their chance, and they can reclaim only
 *   through the host the log places it on (when it restarts there, or after a move);
 * - `move`: the existing move decision to the standby host, refused clearly when the standby is
 *   not a member, is the silent host itself, or is silent too (a double failure: a person decides).
 */
export function policyAction(config: LivenessConfig, identity: NodeId, host: NodeId, s: ClusterState): PolicyAction {
  switch (config.policy) {
    case 'wait':
      return { events: [] };
    case 'start-grace': {
      const restart = start([identity], s, false);
      return restart.ok ? { events: restart.decision.events } : { events: [], refused: restart.rejection.message };
    }
    case 'move': {
      const standby = config.standby;
      if (standby === undefined) return { events: [], refused: 'policy move has no standby host configured' };
      if (!s.members.has(standby)) return { events: [], refused: `standby host ${standby} is not a cluster member (add it: gracectl add ${standby})` };
      if (standby === host) return { events: [], refused: `standby host ${standby} is the silent host itself` };
      const silentStandby = [...s.silent].find(([, silence]) => silence.host === standby);
      if (silentStandby) return { events: [], refused: `standby host ${standby} is silent too (identity ${silentStandby[0]}): a double failure, move ${identity} by hand` };
      const moved = move(identity, standby, s);
      return moved.ok ? { events: moved.decision.events } : { events: [], refused: moved.rejection.message };
    }
  }
}

/** Whether the log already reports `identity` silent on `host` (so a new report would repeat it). */
export function reportedSilent(s: ClusterState, identity: NodeId, host: NodeId): boolean {
  return s.silent.get(identity)?.host === host;
}

/** The host whose heartbeats say whether `identity` is alive: the one the log places it on. */
export function watchedHost(s: ClusterState, identity: NodeId): NodeId {
  return placementOf(s, identity).host;
}
