import { Counter, Gauge, Registry } from 'prom-client';
import type { GkEvent } from '#contracts';
import { graceDeadline, membersNeeding } from '#domain';
import type { ClusterCoordinator, CoordinatorObserver } from './cluster-coordinator';
import type { GraceCoordinator, RequestObserver } from './coordinator';
import type { ExpireOutcome } from './deadline-timer';
import { ALL_OPS, type CoordinatorReply } from './operations';

/**
 * The `op` label of a request: an operation name, or `invalid` for anything else. The name comes
 * from the caller (a NATS or REST request that failed validation still counts), and each distinct
 * label value is a new time series kept for the life of the process: unbounded input must not
 * reach a label.
 */
export function opLabel(op: string): string {
  return (ALL_OPS as readonly string[]).includes(op) ? op : 'invalid';
}

/**
 * The coordinator's Prometheus metrics. Gauges are read from the live views at scrape time;
 * counters count what this replica saw or did since it started.
 */
export class CoordinatorMetrics implements CoordinatorObserver, RequestObserver {
  private coordinator?: GraceCoordinator;
  private readonly decisions: Counter;
  private readonly graceEnded: Counter;
  private readonly deadlineChecks: Counter;
  private readonly requests: Counter;

  constructor(registry: Registry) {
    const gauge = (name: string, help: string, read: (c: ClusterCoordinator) => number | undefined) =>
      new Gauge({
        name, help, labelNames: ['cluster'], registers: [registry],
        collect: () => {
          for (const [cluster, c] of this.coordinator?.clusters ?? []) {
            const value = read(c);
            if (value !== undefined) gaugeOf(registry, name).set({ cluster }, value);
          }
        },
      });
    gauge('gk_grace_current_epoch', 'Current epoch C of the cluster', (c) => c.state?.epoch);
    gauge('gk_grace_recovery_epoch', 'Recovery epoch R (0: no grace in force)', (c) => c.state?.recoveryEpoch);
    gauge('gk_grace_members', 'Cluster members', (c) => c.state?.members.size);
    gauge('gk_grace_members_needing_grace', 'Members with NEED set', (c) => (c.state ? membersNeeding(c.state).length : undefined));
    gauge('gk_grace_seconds_in_grace', 'Seconds since the grace period in force started (0: none)', (c) =>
      c.state ? (c.state.grace ? Math.max(0, (Date.now() - c.state.grace.startedAt) / 1000) : 0) : undefined);
    gauge('gk_grace_deadline_timestamp_seconds', 'Deadline of the grace period in force, Unix seconds (0: none)', (c) => {
      const d = c.state ? graceDeadline(c.state) : undefined;
      return c.state ? (d === undefined ? 0 : d / 1000) : undefined;
    });
    gauge('gk_grace_reclaims_accepted', 'Reclaims accepted in the grace period in force', (c) => c.state?.grace?.reclaimsAccepted ?? (c.state ? 0 : undefined));
    gauge('gk_grace_view_sequence', 'Stream sequence of the last decision applied to this replica\'s view', (c) => c.version);
    // One series per member identity (bounded by the log's membership), 1 while its host is reported silent.
    new Gauge({
      name: 'gk_member_silent', help: 'Whether the host serving the identity is reported silent (no heartbeat past liveness.deadAfterMs)', labelNames: ['cluster', 'identity'], registers: [registry],
      collect: () => {
        const silent = gaugeOf(registry, 'gk_member_silent');
        silent.reset();
        for (const [cluster, c] of this.coordinator?.clusters ?? []) {
          for (const identity of c.state?.members.keys() ?? []) silent.set({ cluster, identity }, c.state!.silent.has(identity) ? 1 : 0);
        }
      },
    });
    this.decisions = new Counter({ name: 'gk_grace_decisions_total', help: 'Events applied to the live view since start, by cluster and event type', labelNames: ['cluster', 'type'], registers: [registry] });
    this.graceEnded = new Counter({ name: 'gk_grace_ended_total', help: 'Grace periods ended since start, by reason', labelNames: ['cluster', 'reason'], registers: [registry] });
    this.deadlineChecks = new Counter({ name: 'gk_coordinator_deadline_checks_total', help: 'Attempts by this replica to end grace at its deadline, by outcome', labelNames: ['cluster', 'outcome'], registers: [registry] });
    this.requests = new Counter({ name: 'gk_coordinator_requests_total', help: 'Requests served, by transport, operation and result code', labelNames: ['transport', 'op', 'result'], registers: [registry] });
  }

  attach(coordinator: GraceCoordinator): void {
    this.coordinator = coordinator;
  }

  applied(cluster: string, events: GkEvent[]): void {
    for (const e of events) {
      this.decisions.inc({ cluster, type: e.type });
      if (e.type === 'GraceEnded') this.graceEnded.inc({ cluster, reason: e.reason });
    }
  }

  deadline(cluster: string, outcome: ExpireOutcome): void {
    this.deadlineChecks.inc({ cluster, outcome });
  }

  request(transport: 'nats' | 'rest', op: string, reply: CoordinatorReply): void {
    this.requests.inc({ transport, op: opLabel(op), result: reply.ok ? 'ok' : reply.code });
  }
}

function gaugeOf(registry: Registry, name: string): Gauge {
  return registry.getSingleMetric(name) as Gauge;
}
