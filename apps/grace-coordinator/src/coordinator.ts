import { randomUUID } from 'node:crypto';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { StreamNames, subjects } from '#contracts';
import { ReadTokens, serveJsonRequests, TokenDigest } from '#service-kit';
import type { GraceEventStore } from '#cluster-store';
import { ClusterCoordinator, ClusterCoordinatorOptions, ViewUnavailable } from './cluster-coordinator';
import { LivenessWatcher } from './liveness/liveness-watcher';
import { adminActor, CoordinatorReply, CoordinatorRequest, isChange, parseRequest, perform } from './operations';

/** NATS queue group: each request is answered by one replica, whichever gets it. */
export const RPC_QUEUE = 'grace-coordinator';

export interface RequestObserver {
  request?(transport: 'nats' | 'rest', op: string, reply: CoordinatorReply): void;
}

/**
 * The grace-coordinator's core, without Nest: one ClusterCoordinator per served cluster, and the
 * NATS request/reply endpoint of each. REST (Nest) calls `handle` too, so both give the same answers.
 */
export class GraceCoordinator {
  private readonly rpc: Subscription[] = [];
  private readonly watchers: LivenessWatcher[] = [];
  private closed = false;

  private constructor(
    private readonly nc: NatsConnection,
    readonly names: StreamNames,
    readonly clusters: Map<string, ClusterCoordinator>,
    private readonly observer: RequestObserver,
    private readonly adminToken: TokenDigest | undefined,
    private readonly readTokens: ReadTokens,
  ) {}

  static async start(options: {
    nc: NatsConnection;
    store: GraceEventStore;
    names: StreamNames;
    clusters: string[];
    cluster: Omit<ClusterCoordinatorOptions, 'replica'> & { replica: string };
    observer?: RequestObserver;
    /** Serve NATS request/reply (default true). */
    rpc?: boolean;
    /** The admin token changes over NATS must carry (REST's bearer token); none: changes refused. */
    adminToken?: string;
    /** When set, reads over NATS (dump, status) must carry it (or the admin token), as REST reads do. */
    readToken?: string;
    /** Follow the agents' heartbeats and report silent hosts (default true; acts only where liveness is configured). */
    liveness?: boolean;
  }): Promise<GraceCoordinator> {
    const opened = new Map<string, ClusterCoordinator>();
    try {
      for (const cluster of options.clusters) {
        opened.set(cluster, await ClusterCoordinator.open(options.store, options.names, cluster, options.cluster));
      }
    } catch (err) {
      await Promise.all([...opened.values()].map((c) => c.close()));
      throw err;
    }
    const coordinator = new GraceCoordinator(options.nc, options.names, opened, options.observer ?? {}, options.adminToken ? new TokenDigest(options.adminToken) : undefined, new ReadTokens(options.readToken, options.adminToken));
    if (options.liveness ?? true) {
      for (const [cluster, c] of opened) {
        const problem = (message: string) => options.cluster.observer?.problem?.(cluster, `liveness: ${message}`);
        coordinator.watchers.push(new LivenessWatcher(options.nc, options.names, c, { clocks: options.cluster.clocks, problem }).start());
      }
    }
    if (options.rpc ?? true) {
      coordinator.serveRpc();
      // The subscriptions exist at the server only once flushed: until then a request from
      // another connection would find no responders.
      await options.nc.flush();
    }
    return coordinator;
  }

  /**
   * Answers one request for one cluster; never throws. A change needs the admin token: REST's
   * guard checked the bearer token before calling this; over NATS the request carries it.
   */
  async handle(cluster: string, raw: unknown, transport: 'nats' | 'rest'): Promise<CoordinatorReply> {
    const parsed = parseRequest(raw);
    const op = typeof (raw as { op?: unknown } | null)?.op === 'string' ? String((raw as { op: string }).op).slice(0, 32) : '?';
    const refusal = parsed.ok && transport === 'nats' ? this.unauthorised(parsed.request) : undefined;
    const reply = !parsed.ok ? parsed.reply : refusal ?? await this.perform(cluster, parsed.request, transport);
    this.observer.request?.(transport, parsed.ok ? parsed.request.op : op, reply);
    return reply;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.rpc) s.unsubscribe();
    for (const w of this.watchers) w.close();
    await Promise.all([...this.clusters.values()].map((c) => c.close()));
  }

  private unauthorised(request: CoordinatorRequest): CoordinatorReply | undefined {
    if (!isChange(request.op)) {
      // Reads answer with client-free cluster state, but a configured read token closes them as on REST.
      return this.readTokens.accepts(request.token) ? undefined : { ok: false, code: 'UNAUTHORIZED', error: 'a read needs the read token (or the admin token) in "token"' };
    }
    if (!this.adminToken) return { ok: false, code: 'FORBIDDEN', error: 'admin changes are disabled: no admin token configured (GK_ADMIN_TOKEN)' };
    if (!this.adminToken.matches(request.token)) return { ok: false, code: 'UNAUTHORIZED', error: 'a change needs the admin token in "token" (the REST bearer token)' };
    return undefined;
  }

  private async perform(cluster: string, request: CoordinatorRequest, transport: 'nats' | 'rest'): Promise<CoordinatorReply> {
    const c = this.clusters.get(cluster);
    if (!c) return { ok: false, code: 'NOT_SERVED', error: `cluster ${cluster} is not served by this coordinator (it serves ${[...this.clusters.keys()].join(', ')})` };
    try {
      return await perform(c, request, `${transport}:${randomUUID()}`, adminActor(transport));
    } catch (err) {
      if (err instanceof ViewUnavailable) return { ok: false, code: 'UNAVAILABLE', error: err.message };
      return { ok: false, code: 'INTERNAL', error: (err as Error).message ?? String(err) };
    }
  }

  private serveRpc(): void {
    for (const cluster of this.clusters.keys()) {
      this.rpc.push(serveJsonRequests(this.nc, {
        subject: subjects.coordinatorRequests(this.names, cluster),
        queue: RPC_QUEUE,
        handle: (_subject, raw) => this.handle(cluster, raw, 'nats'),
        closed: () => this.closed,
      }));
    }
  }
}
