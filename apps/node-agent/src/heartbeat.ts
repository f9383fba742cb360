import type { NatsConnection } from '@nats-io/transport-node';
import { encodeHeartbeat, type StreamNames, subjects } from '#contracts';
import { type AgentLog, errorText } from './core/log';

export const DEFAULT_HEARTBEAT_MS = 1000;

export interface HeartbeatOptions {
  nc: NatsConnection;
  names: StreamNames;
  cluster: string;
  /** This host (the agent's node id). */
  host: string;
  /** The identities this agent serves (the coordinator counts a heartbeat only for the host the log places an identity on). */
  identities: () => readonly string[];
  /** Between heartbeats; the cluster's deadAfter should be several of these. */
  intervalMs: number;
  log: AgentLog;
}

/**
 * The agent's heartbeat (SPEC §2 liveness): every `intervalMs`, one core-NATS message on the
 * cluster's heartbeat subject naming this host and the identities it serves. Fire and forget:
 * never stored, never awaited, so a slow NATS delays nothing else; while NATS is unreachable the
 * agent is, as far as the coordinator can tell, silent (which is the point). Stops by itself once
 * its connection is closed (the agent stopping or killed).
 */
export class HeartbeatPublisher {
  private readonly timer: NodeJS.Timeout;
  private seq = 0;
  private failing = false;

  constructor(private readonly o: HeartbeatOptions) {
    this.timer = setInterval(() => this.beat(), o.intervalMs);
    this.timer.unref();
    this.beat();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private beat(): void {
    if (this.o.nc.isClosed()) return this.stop();
    try {
      this.o.nc.publish(subjects.heartbeats(this.o.names, this.o.cluster), encodeHeartbeat({
        kind: 'gk.heartbeat', v: 1, cluster: this.o.cluster, host: this.o.host, identities: [...this.o.identities()], seq: this.seq++, sentAt: Date.now(),
      }));
      if (this.failing) this.o.log.info('heartbeats are published again');
      this.failing = false;
    } catch (err) {
      // Reported once per outage, not once per beat.
      if (!this.failing) this.o.log.warn(`cannot publish a heartbeat: ${errorText(err)}`);
      this.failing = true;
    }
  }
}
