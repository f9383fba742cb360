import { createServer, connect, Server, Socket } from 'node:net';

/**
 * A TCP relay between one agent and NATS, so the simulator can cut that agent off from NATS (and
 * only that agent) and restore it. `cut('refuse')` drops every relayed connection and refuses new
 * ones (the agent sees connection errors at once); `cut('blackhole')` keeps accepting but forwards
 * nothing (the agent sees timeouts, like a partition that drops packets).
 */
export class NatsProxy {
  private readonly pairs = new Set<{ client: Socket; upstream?: Socket }>();
  private mode: 'open' | 'refuse' | 'blackhole' = 'open';
  connections = 0;

  private constructor(private readonly server: Server, readonly port: number, private readonly target: { host: string; port: number }) {}

  static async start(natsUrl: string): Promise<NatsProxy> {
    const first = natsUrl.split(',')[0].trim();
    const u = new URL(first.includes('://') ? first : `nats://${first}`);
    const target = { host: u.hostname, port: Number(u.port || 4222) };
    let proxy!: NatsProxy;
    const server = createServer((client) => proxy.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('proxy has no port');
    proxy = new NatsProxy(server, address.port, target);
    return proxy;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get isCut(): boolean {
    return this.mode !== 'open';
  }

  cut(mode: 'refuse' | 'blackhole' = 'refuse'): void {
    this.mode = mode;
    for (const pair of this.pairs) {
      if (mode === 'refuse') {
        pair.client.destroy();
        pair.upstream?.destroy();
      } else {
        // Stop forwarding in both directions but keep the sockets open.
        pair.client.unpipe();
        pair.upstream?.unpipe();
        pair.client.pause();
        pair.upstream?.pause();
      }
    }
    if (mode === 'refuse') this.pairs.clear();
  }

  /** Lets traffic through again. Connections held in a blackhole are dropped so the agent reconnects. */
  restore(): void {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream?.destroy();
    }
    this.pairs.clear();
    this.mode = 'open';
  }

  async close(): Promise<void> {
    this.restore();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    client.on('error', () => undefined);
    if (this.mode === 'refuse') {
      client.destroy();
      return;
    }
    const pair: { client: Socket; upstream?: Socket } = { client };
    this.pairs.add(pair);
    const drop = () => {
      client.destroy();
      pair.upstream?.destroy();
      this.pairs.delete(pair);
    };
    client.on('close', drop);
    if (this.mode === 'blackhole') {
      client.pause();
      return;
    }
    this.connections += 1;
    const upstream = connect(this.target.port, this.target.host);
    pair.upstream = upstream;
    upstream.on('error', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
