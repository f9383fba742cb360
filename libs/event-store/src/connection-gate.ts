import type { NatsConnection } from '@nats-io/transport-node';

/**
 * Tracks whether the client is connected. With @nats-io/transport-node 3.4, a request published
 * while the client is disconnected is not answered after the reconnect: it waits out its whole
 * timeout. Waiting for the reconnect first turns a 5 s stall into the reconnect time.
 */
export class ConnectionGate {
  private connected = true;
  private readonly waiters = new Set<() => void>();

  constructor(nc: NatsConnection) {
    void this.watch(nc);
  }

  /** Resolves once connected, or after `timeoutMs` regardless (the request then fails or succeeds on its own). */
  ready(timeoutMs: number): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve) => {
      const release = () => {
        clearTimeout(timer);
        this.waiters.delete(release);
        resolve();
      };
      const timer = setTimeout(release, timeoutMs);
      this.waiters.add(release);
    });
  }

  private async watch(nc: NatsConnection): Promise<void> {
    try {
      for await (const status of nc.status()) {
        if (status.type === 'disconnect') this.connected = false;
        else if (status.type === 'reconnect') this.open();
      }
    } catch {
      // The status iterator only ends with the connection.
    } finally {
      // Closed: let waiters through so that their requests fail at once with a closed-connection error.
      this.open();
    }
  }

  private open(): void {
    this.connected = true;
    for (const release of [...this.waiters]) release();
  }
}
