import { Counter, Gauge, type Registry } from 'prom-client';
import { lastEventSequence, type CommittedBatch } from '#projection';
import type { ClientRegistry } from './registry';

/**
 * The registry's Prometheus metrics: gauges read at scrape time (checkpoint, lag, role), counters
 * of what this replica projected since it started.
 */
export function registryMetrics(registry: Registry, core: ClientRegistry): void {
  const { projector } = core;
  new Gauge({
    name: 'gk_registry_checkpoint_sequence', help: 'Stream sequence the read model reflects (as this replica last saw it)', registers: [registry],
    collect() { this.set(projector.checkpoint); },
  });
  new Gauge({
    name: 'gk_registry_active', help: '1 when this replica is the one projecting (holds the projector lock)', registers: [registry],
    collect() { this.set(projector.role === 'active' ? 1 : 0); },
  });
  new Gauge({
    name: 'gk_registry_projection_lag_sequences', help: 'Stream sequences not yet in the read model (0: caught up)', registers: [registry],
    async collect() {
      try {
        const status = await core.queries.status();
        const stream = await lastEventSequence(core.projectorConnection, core.names);
        this.set(Math.max(0, stream - (status.checkpoint?.sequence ?? 0)));
      } catch {
        // Unknown for now (database or NATS away): the health check says why.
      }
    },
  });
  const events = new Counter({ name: 'gk_registry_events_projected_total', help: 'Events this replica committed to the read model', registers: [registry] });
  const messages = new Counter({ name: 'gk_registry_messages_projected_total', help: 'Stream messages this replica committed to the read model', registers: [registry] });
  const malformed = new Counter({ name: 'gk_registry_malformed_total', help: 'Malformed stream messages recorded and skipped', registers: [registry] });
  const batches = new Counter({ name: 'gk_registry_batches_total', help: 'Projection transactions committed', registers: [registry] });
  const sessions = new Counter({ name: 'gk_registry_projector_sessions_failed_total', help: 'Projector sessions that ended in an error and were restarted from the database', registers: [registry] });
  let last: CommittedBatch | undefined;
  projector.on('committed', (b: CommittedBatch) => {
    batches.inc();
    if (last) {
      events.inc(Math.max(0, b.events - last.events));
      messages.inc(Math.max(0, b.messages - last.messages));
      malformed.inc(Math.max(0, b.malformed - last.malformed));
    }
    last = b;
  });
  projector.on('session-failed', () => {
    sessions.inc();
    last = undefined;
  });
}
