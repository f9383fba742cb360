import { subjects, type DecisionMessage, type StreamNames } from '#contracts';
import type { JetStreamEventStore } from '#event-store';
import type { OutboxItem, ProjectionModel } from './model';

export interface OutboxPublisherOptions {
  store: JetStreamEventStore<DecisionMessage>;
  names: StreamNames;
  /** Off for read-only tools: nothing is published. */
  enabled: boolean;
  log(level: 'info' | 'warn', message: string): void;
  stopped(): boolean;
}

/**
 * Publishes the outbox's ClientRecordsInvalidated whose GraceEnded is committed. Before each
 * publish the registry subject is checked for the id (a publish from before a crash, beyond
 * JetStream's de-duplication window), and the msgID de-duplicates a race with another replica.
 * The item leaves the outbox when the projector sees the message come back in the stream.
 */
export class OutboxPublisher {
  /** The publish under way, if any (one at a time). */
  publishing?: Promise<void>;
  private readonly published = new Set<string>();

  constructor(private readonly options: OutboxPublisherOptions) {}

  /** Publishes what is ready up to the `committed` sequence; never rejects (a failure is retried later). */
  publish(model: ProjectionModel, committed: number): Promise<void> {
    if (this.publishing || !this.options.enabled) return this.publishing ?? Promise.resolve();
    this.publishing = this.publishReady(model, committed).finally(() => { this.publishing = undefined; });
    return this.publishing;
  }

  private async publishReady(model: ProjectionModel, committed: number): Promise<void> {
    const { store, names } = this.options;
    try {
      const ready = [...model.outbox.values()].filter((o) => o.afterSequence <= committed && !this.published.has(o.id));
      const byCluster = new Map<string, OutboxItem[]>();
      for (const item of ready) {
        const list = byCluster.get(item.cluster) ?? [];
        list.push(item);
        byCluster.set(item.cluster, list);
      }
      for (const [cluster, items] of byCluster) {
        const subject = subjects.registry(names, cluster);
        const from = Math.min(...items.map((i) => i.afterSequence));
        const existing = await store.readStream(subject, { from });
        const seen = new Set(existing.messages.map((m) => m.message.id));
        for (const item of items) {
          if (!seen.has(item.id)) {
            await store.appendToStream(subject, item.message, { expectedVersion: 'any' });
            this.options.log('info', `published ${item.id} (${item.message.events[0]?.type === 'ClientRecordsInvalidated' ? item.message.events[0].clients.length : 0} clients)`);
          }
          this.published.add(item.id);
        }
      }
    } catch (err) {
      if (!this.options.stopped()) this.options.log('warn', `could not publish invalidations yet: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
