import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { DataSource } from 'typeorm';
import { clientOwner, isValidToken, subjects, type StreamNames } from '#contracts';
import type { GraceEventStore } from '#cluster-store';
import { ReadTokens, serveJsonRequests } from '#service-kit';
import {
  auditRowsFromDatabase, buildTimeline, connectClient, isDatabaseUnavailable, lastEventSequence, migrateRegistry, NoReadModel, Projector, readModelName,
  ReadModelQueries, rebuildReadModel, registryDataSource, sqlOf, type AuditFocus, type ProjectorOptions, type RebuildProgress,
  type RebuildResult, type ReadTransaction,
} from '#projection';
import { parseRegistryRequest, type RegistryReply, type RegistryRequest } from './requests';

export interface RegistryOptions {
  databaseUrl: string;
  /** Where NATS is, for the rebuild's reader thread (its own connection). */
  natsUrl?: string;
  nc: NatsConnection;
  store: GraceEventStore;
  names: StreamNames;
  replica: string;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Projector tuning (batch size, flush delay, lock polling). */
  projector?: Pick<ProjectorOptions, 'maxBatchEvents' | 'flushDelayMs' | 'lockPollMs' | 'publishInvalidations'>;
  /** Serve queries over NATS request/reply. Default true. */
  rpc?: boolean;
  /**
   * When set, every NATS query must carry it (or the admin token) in `token`, as REST's read
   * guard asks for the bearer token; unset, queries are open (as REST reads are).
   */
  readToken?: string;
  adminToken?: string;
}

export interface ReplayJob {
  id: string;
  state: 'running' | 'done' | 'failed';
  startedAt: string;
  finishedAt?: string;
  progress?: RebuildProgress;
  result?: RebuildResult;
  error?: string;
}

const RPC_QUEUE = 'gk-client-registry';

/**
 * The client-registry's core, without Nest: the projector (one active replica writes the read
 * model, the others stand by), the read side (REST and NATS answer the same queries from the
 * same transaction-consistent reads, each answer with the stream sequence it reflects), and
 * replays triggered by an operator.
 */
export class ClientRegistry {
  readonly projector: Projector;
  readonly queries: ReadModelQueries;
  replay?: ReplayJob;
  private readonly rpc: Subscription[] = [];
  private readonly readTokens: ReadTokens;
  private closed = false;

  private constructor(private readonly options: RegistryOptions, private readonly ds: DataSource) {
    this.readTokens = new ReadTokens(options.readToken, options.adminToken);
    const tx: ReadTransaction = (work) => ds.transaction('REPEATABLE READ', (em) => work(sqlOf(em)));
    this.queries = new ReadModelQueries(tx, readModelName(options.names.stream));
    this.projector = new Projector({
      databaseUrl: options.databaseUrl, natsUrl: options.natsUrl, nc: options.nc, store: options.store, names: options.names,
      replica: options.replica, log: options.log, ...options.projector,
    });
  }

  static async start(options: RegistryOptions): Promise<ClientRegistry> {
    await migrateRegistry(options.databaseUrl);
    const ds = registryDataSource(options.databaseUrl, { applicationName: `gk-client-registry:${options.replica}`.slice(0, 63) });
    await ds.initialize();
    const registry = new ClientRegistry(options, ds);
    registry.projector.start();
    if (options.rpc ?? true) registry.serveRpc();
    return registry;
  }

  get dataSource(): DataSource {
    return this.ds;
  }

  get names(): StreamNames {
    return this.options.names;
  }

  get projectorConnection(): NatsConnection {
    return this.options.nc;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.rpc) s.unsubscribe();
    await this.projector.stop();
    await this.ds.destroy().catch(() => undefined);
  }

  /** Checkpoint, stream position and lag (in stream sequences) of the read model. */
  async projection() {
    const [status, streamSequence] = await Promise.all([
      this.queries.status(),
      lastEventSequence(this.options.nc, this.options.names).catch(() => undefined),
    ]);
    const checkpoint = status.checkpoint?.sequence ?? 0;
    return {
      ...status,
      replica: this.options.replica,
      role: this.projector.role,
      lastError: this.projector.lastError,
      streamSequence,
      lag: streamSequence === undefined ? undefined : Math.max(0, streamSequence - checkpoint),
      replay: this.replay,
    };
  }

  /**
   * One query, from REST or NATS. Never throws: errors are replies. REST's guard checked the
   * bearer token before calling this; over NATS the request carries it, checked before anything
   * else so that an unauthorised caller learns nothing about the request's validity.
   */
  async handle(cluster: string, raw: unknown, transport: 'nats' | 'rest'): Promise<RegistryReply> {
    if (!isValidToken(cluster)) return { ok: false, code: 'BAD_REQUEST', error: `invalid cluster id ${JSON.stringify(cluster)}` };
    if (transport === 'nats' && !this.readTokens.accepts(presentedToken(raw))) return this.refuse(cluster, raw);
    const parsed = parseRegistryRequest(raw);
    if (!parsed.ok) return parsed.reply;
    const request = parsed.request;
    try {
      if ('atLeast' in request && request.atLeast !== undefined) await this.reach(request.atLeast, request.waitMs ?? 5000);
      return { ok: true, ...(await this.answer(cluster, request)) };
    } catch (err) {
      if (err instanceof NoReadModel) return { ok: false, code: 'NO_READ_MODEL', error: err.message };
      if (err instanceof NotYet) return { ok: false, code: 'UNAVAILABLE', error: err.message };
      if (isDatabaseUnavailable(err)) return { ok: false, code: 'UNAVAILABLE', error: `PostgreSQL is out of reach: ${(err as Error).message}` };
      this.options.log?.('error', `query ${request.op} on ${cluster} failed: ${(err as Error).stack ?? String(err)}`);
      return { ok: false, code: 'INTERNAL', error: (err as Error).message };
    }
  }

  private refuse(cluster: string, raw: unknown): RegistryReply {
    const op = (raw as { op?: unknown } | null)?.op;
    // The op is caller-chosen text: a short, printable excerpt; the token is never written.
    const shown = typeof op === 'string' ? JSON.stringify(op.slice(0, 32)) : 'without an op';
    this.options.log?.('warn', `refused a NATS query ${shown} on cluster ${cluster}: ${presentedToken(raw) === undefined ? 'no' : 'a wrong'} read token`);
    return { ok: false, code: 'UNAUTHORIZED', error: 'registry queries need the read token in "token" (the REST bearer token)' };
  }

  private async answer(cluster: string, r: RegistryRequest): Promise<object> {
    switch (r.op) {
      case 'reclaimable': return this.queries.reclaimable(cluster, r.node, r.client);
      case 'reclaimableClients': return this.queries.reclaimableClients(cluster, r.node);
      case 'clients': return this.queries.clients(cluster, { node: r.node, epoch: r.epoch, valid: r.valid, limit: r.limit, after: r.after });
      case 'client': return this.queries.client(cluster, r.client);
      case 'gracePeriods': return this.queries.gracePeriods(cluster);
      case 'cluster': return this.queries.cluster(cluster);
      case 'audit': {
        const focus: AuditFocus = r.client !== undefined ? { cluster, client: r.client } : r.node !== undefined ? { cluster, node: r.node } : { cluster, epoch: r.epoch! };
        // `owner`: the client's owner string as text where printable, hex otherwise (console, auditors).
        const owner = r.client !== undefined ? { owner: clientOwner(r.client) } : {};
        return this.queries.read(async (sql, schema) => ({ focus, ...owner, entries: buildTimeline(await auditRowsFromDatabase(sql, schema, focus, r.limit), focus) }));
      }
      case 'projection': return this.projection();
    }
  }

  /** Waits until the read model reflects `sequence`. */
  private async reach(sequence: number, waitMs: number): Promise<void> {
    const until = Date.now() + waitMs;
    for (;;) {
      const status = await this.queries.status();
      const at = status.checkpoint?.sequence ?? 0;
      if (at >= sequence) return;
      if (Date.now() >= until) throw new NotYet(`the read model is at sequence ${at}, not yet ${sequence} (after ${waitMs} ms)`);
      if (this.projector.role === 'active') {
        await this.projector.waitForCheckpoint(sequence, Math.max(1, until - Date.now())).catch(() => undefined);
      } else {
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }

  /**
   * Rebuilds the read model from the first event into a new generation and swaps it in; the
   * live projector keeps serving meanwhile and continues on the new generation. One at a time.
   */
  startReplay(): ReplayJob {
    if (this.replay?.state === 'running') return this.replay;
    const job: ReplayJob = { id: `replay-${Date.now().toString(36)}`, state: 'running', startedAt: new Date().toISOString() };
    this.replay = job;
    void (async () => {
      const client = await connectClient(this.options.databaseUrl, `gk-registry-replay:${this.options.replica}`.slice(0, 63));
      try {
        job.result = await rebuildReadModel({
          client, databaseUrl: this.options.databaseUrl, natsUrl: this.options.natsUrl, nc: this.options.nc, store: this.options.store, names: this.options.names,
          onProgress: (p) => { job.progress = p; },
        });
        job.state = 'done';
        this.options.log?.('info', `replay ${job.id}: ${job.result.events} events, ${Math.round(job.result.eventsPerSecond)} events/s; generation ${job.result.generation} is live`);
      } finally {
        await client.end().catch(() => undefined);
      }
    })().catch((err: unknown) => {
      job.state = 'failed';
      job.error = (err as Error).message;
      this.options.log?.('warn', `replay ${job.id} failed: ${job.error}`);
    }).finally(() => {
      job.finishedAt = new Date().toISOString();
    });
    return job;
  }

  private serveRpc(): void {
    // Every cluster's request subject: the last token of the registry's request subject is the cluster.
    this.rpc.push(serveJsonRequests(this.options.nc, {
      subject: subjects.registryRequests(this.options.names, 'x').replace(/\.x$/, '.*'),
      queue: RPC_QUEUE,
      handle: (subject, raw) => this.handle(subject.slice(subject.lastIndexOf('.') + 1), raw, 'nats'),
      closed: () => this.closed,
    }));
  }
}

function presentedToken(raw: unknown): string | undefined {
  const token = (raw as { token?: unknown } | null)?.token;
  return typeof token === 'string' ? token : undefined;
}

class NotYet extends Error {
  override readonly name = 'NotYet';
}
