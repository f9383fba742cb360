import { createServer, type Server } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import { natsServers } from '#contracts';

/** Something a service needs before it can start (NATS, PostgreSQL): `check` throws while it is not there. */
export interface Dependency {
  name: string;
  check(): Promise<void>;
}

/** Back-off between attempts: 250 ms doubling to 10 s. */
export function startUpDelayMs(attempt: number): number {
  return Math.min(250 * 2 ** Math.max(0, attempt - 1), 10_000);
}

/**
 * While a service waits for its dependencies, its admin port already answers: `/health/live` 200
 * (the process is fine: restarting it would not bring NATS back), `/health` 503 naming what is
 * missing (the same shape as the service's own readiness), anything else 503.
 */
export class StartingServer {
  private waiting: Record<string, string> = {};

  private constructor(private readonly server: Server) {}

  static async listen(port: number, host: string): Promise<StartingServer> {
    let self!: StartingServer;
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const reply = (status: number, body: object) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(body));
      };
      if (path === '/health/live') return reply(200, { status: 'ok' });
      const error = Object.fromEntries(Object.entries(self.waiting).map(([name, message]) => [name, { status: 'down', message }]));
      if (path === '/health') return reply(503, { status: 'error', info: {}, error, details: error });
      return reply(503, { statusCode: 503, message: `starting: waiting for ${Object.keys(self.waiting).join(', ') || 'start-up'}` });
    });
    self = new StartingServer(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return self;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** Records what is still missing (shown on /health). */
  report(waiting: Record<string, string>): void {
    this.waiting = waiting;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Retries every dependency's check with back-off until all pass, reporting each failure. */
export async function waitForDependencies(dependencies: Dependency[], report: (waiting: Record<string, string>, attempt: number, retryInMs: number) => void): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const waiting: Record<string, string> = {};
    await Promise.all(dependencies.map(async (d) => {
      try {
        await d.check();
      } catch (err) {
        waiting[d.name] = err instanceof Error ? err.message : String(err);
      }
    }));
    if (Object.keys(waiting).length === 0) return;
    const retryInMs = startUpDelayMs(attempt);
    report(waiting, attempt, retryInMs);
    await new Promise((r) => setTimeout(r, retryInMs));
  }
}

/**
 * NATS is there when one of its servers answers with its INFO line. Only reachability: the
 * service's own connection (with its credentials and TLS) follows, and a refusal there is a
 * configuration error, not something to wait for.
 */
export function natsDependency(natsUrl: string, timeoutMs = 2000): Dependency {
  const servers = natsServers(natsUrl).map((u) => new URL(u.includes('://') ? u : `nats://${u}`));
  const one = (u: URL) => new Promise<void>((resolve, reject) => {
    const socket = tcpConnect({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 4222) });
    const timer = setTimeout(() => socket.destroy(new Error(`no answer from ${u.host} within ${timeoutMs} ms`)), timeoutMs);
    socket.once('data', (d) => {
      socket.destroy();
      if (String(d).startsWith('INFO ')) resolve();
      else reject(new Error(`${u.host} is not a NATS server`));
    });
    socket.once('error', (err) => reject(new Error(`${u.host}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
    socket.once('close', () => clearTimeout(timer));
  });
  return {
    name: 'nats',
    check: async () => {
      const errors: string[] = [];
      for (const u of servers) {
        try {
          return await one(u);
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
      throw new Error(`no NATS server reachable (${errors.join('; ')})`);
    },
  };
}
