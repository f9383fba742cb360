import { EventEmitter } from 'node:events';
import type { Client } from 'pg';
import { subjects, type DecisionMessage, type StreamNames } from '#contracts';
import type { JetStreamEventStore, MalformedMessage, Subscription, SubscriptionEnd } from '#event-store';
import type { NatsConnection } from '@nats-io/transport-node';
import { LOCK_SQL, readPointer, sqlOf, type LivePointer } from './control';
import { connectClient, migrateRegistry } from './database';
import { READ_MODEL_VERSION, readModelName } from './ddl';
import { loadModel } from './loader';
import { applyMalformed, applyMessage, ChangeSet, type OutboxItem, type ProjectionModel } from './model';
import { rebuildReadModel } from './rebuild';
import { materializeChanges } from './rows';
import { projectedSubjects } from './stream';
import { writeChanges } from './writer';

export type ProjectorRole = 'starting' | 'standby' | 'rebuilding' | 'active' | 'stopped';

export interface ProjectorOptions {
  databaseUrl: string;
  /** Lets a rebuild read the stream in a worker thread (its own connection). */
  natsUrl?: string;
  nc: NatsConnection;
  store: JetStreamEventStore<DecisionMessage>;
  names: StreamNames;
  /** Who this replica is, for logs and connection names. */
  replica: string;
  /** Read model name; default: derived from the stream name. */
  name?: string;
  /** Events per transaction at most (a catch-up writes this many at a time). Default 5000. */
  maxBatchEvents?: number;
  /** How long a batch may wait for more messages before it is written. Default 5 ms. */
  flushDelayMs?: number;
  /** How often a standby tries to take over. Default 500 ms. */
  lockPollMs?: number;
  /** Publish the ClientRecordsInvalidated the registry derives (off for read-only tools). Default true. */
  publishInvalidations?: boolean;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export interface CommittedBatch {
  sequence: number;
  events: number;
  messages: number;
  malformed: number;
}

/** The live generation changed under the projector (a replay swapped a new one in). */
class ReadModelSwapped extends Error {
  override readonly name = 'ReadModelSwapped';
}

/**
 * The one writer of a read model. Replicas race for a PostgreSQL advisory lock held on the
 * connection that also does every write, so a projector that loses its connection loses both
 * at once and cannot write after another replica took over. The active projector:
 *
 * - loads its model from the live generation (or builds the first generation by replay),
 * - follows the stream from checkpoint + 1 with an ordered consumer,
 * - applies messages to the model and writes them in batches, each one transaction that also
 *   moves the checkpoint (conditionally: a checkpoint that moved means another writer; stop),
 * - publishes the ClientRecordsInvalidated its outbox holds once their GraceEnded is committed.
 *
 * Any failure ends the session: the model is dropped, and the next session resumes from what the
 * database says. That is the whole recovery story, and the kill tests exercise it.
 */
export class Projector extends EventEmitter {
  role: ProjectorRole = 'starting';
  /** Committed checkpoint of the live generation, as far as this replica knows. */
  checkpoint = 0;
  pointer?: LivePointer;
  lastError?: string;
  sessions = 0;
  private stopped = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private readonly name: string;
  private readonly waiters = new Set<{ sequence: number; resolve: () => void }>();

  constructor(private readonly options: ProjectorOptions) {
    super();
    this.name = options.name ?? readModelName(options.names.stream);
  }

  start(): this {
    this.loop ??= this.run();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    this.setRole('stopped');
  }

  /** Resolves once this replica committed `sequence` (or beyond). */
  waitForCheckpoint(sequence: number, timeoutMs = 30_000): Promise<void> {
    if (this.checkpoint >= sequence) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        sequence,
        resolve: () => { clearTimeout(timer); this.waiters.delete(waiter); resolve(); },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`projector did not commit sequence ${sequence} within ${timeoutMs} ms (at ${this.checkpoint}, ${this.role})`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  private log(level: 'info' | 'warn' | 'error', message: string): void {
    this.options.log?.(level, `[projector ${this.options.replica}] ${message}`);
  }

  private setRole(role: ProjectorRole): void {
    if (this.role === role) return;
    this.role = role;
    this.emit('role', role);
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        this.sessions += 1;
        await this.session();
        failures = 0;
      } catch (err) {
        if (err instanceof ReadModelSwapped) {
          this.log('info', 'a new generation was swapped in: reloading from it');
          failures = 0;
          continue;
        }
        failures += 1;
        this.lastError = err instanceof Error ? err.message : String(err);
        this.log('warn', `session ended: ${this.lastError}`);
        this.emit('session-failed', err);
      }
      if (!this.stopped) await this.pause(Math.min(5000, 100 * 2 ** Math.min(failures, 6)));
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() { clearTimeout(timer); resolve(); }
      this.wake = done;
    });
  }

  private async session(): Promise<void> {
    this.setRole('starting');
    await migrateRegistry(this.options.databaseUrl);
    let connectionError: Error | undefined;
    const client = await connectClient(this.options.databaseUrl, `gk-projector:${this.options.replica}`.slice(0, 63), (err) => {
      connectionError = err;
      this.wake?.();
    });
    try {
      this.setRole('standby');
      while (!this.stopped) {
        const [row] = (await client.query<{ locked: boolean }>(LOCK_SQL.projector, [this.name])).rows;
        if (row?.locked) break;
        await this.pause(this.options.lockPollMs ?? 500);
        if (connectionError) throw connectionError;
      }
      if (this.stopped) return;
      let pointer = await readPointer(sqlOf(client), this.name);
      if (!pointer || pointer.version !== READ_MODEL_VERSION) {
        this.setRole('rebuilding');
        this.log('info', pointer ? `read model version ${pointer.version} is not ${READ_MODEL_VERSION}: rebuilding from the events` : 'no read model yet: building it from the events');
        await rebuildReadModel({
          client, databaseUrl: this.options.databaseUrl, natsUrl: this.options.natsUrl, nc: this.options.nc, store: this.options.store, names: this.options.names, name: this.name,
          onMalformed: (m) => this.reportMalformed(m),
        });
        pointer = await readPointer(sqlOf(client), this.name);
        if (!pointer) throw new Error('rebuild finished without a live generation');
      }
      this.pointer = pointer;
      const model = await loadModel(sqlOf(client), pointer.schema);
      this.commit(model.position);
      this.setRole('active');
      this.log('info', `active on ${pointer.schema} from sequence ${model.position + 1}`);
      await this.follow(client, pointer, model, () => connectionError);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Follows the stream until stopped or something fails (then throws). */
  private async follow(client: Client, pointer: LivePointer, model: ProjectionModel, connectionError: () => Error | undefined): Promise<void> {
    const { names } = this.options;
    const maxEvents = this.options.maxBatchEvents ?? 5000;
    const delay = this.options.flushDelayMs ?? 5;
    let changes = new ChangeSet();
    let chain: Promise<void> = Promise.resolve();
    let failure: unknown;
    let timer: NodeJS.Timeout | undefined;
    let ended!: (reason?: unknown) => void;
    const endedPromise = new Promise<void>((resolve, reject) => { ended = (reason) => (reason ? reject(reason) : resolve()); });

    const flush = (): Promise<void> => {
      if (timer) { clearTimeout(timer); timer = undefined; }
      chain = chain.then(async () => {
        if (failure || changes.empty) return;
        const rows = materializeChanges(model, changes);
        changes = new ChangeSet();
        const from = this.checkpoint;
        await client.query('BEGIN');
        try {
          const live = await readPointer(sqlOf(client), this.name, 'FOR SHARE');
          if (!live || live.generation !== pointer.generation) throw new ReadModelSwapped();
          await writeChanges(client, pointer.schema, rows, from);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
        this.commit(rows.lastSequence);
        this.emit('committed', { sequence: rows.lastSequence, events: rows.events, messages: rows.messages, malformed: rows.malformed } satisfies CommittedBatch);
        if (model.outbox.size) void this.publishOutbox(model, rows.lastSequence);
      }).catch((err: unknown) => {
        failure ??= err;
        ended(err);
      });
      return chain;
    };
    const schedule = () => {
      if (changes.events + changes.malformed >= maxEvents) return flush();
      timer ??= setTimeout(() => void flush(), delay);
      return undefined;
    };

    const sub: Subscription = await this.options.store.subscribe(projectedSubjects(names), { fromSequence: model.position + 1 }, async (stored) => {
      if (failure) throw failure;
      applyMessage(model, names, stored, changes);
      await schedule();
      if (failure) throw failure;
    }, {
      onMalformed: (m) => {
        if (applyMalformed(model, m, changes)) this.reportMalformed(m);
        void schedule();
      },
    });
    if (model.outbox.size) void this.publishOutbox(model, model.position);
    let ticks = 0;
    const watchdog = setInterval(() => {
      const err = connectionError();
      if (err) ended(err);
      if (this.stopped) ended();
      // Retry publishes that failed (NATS away) even when no new batch comes to trigger them.
      if (++ticks % 20 === 0 && model.outbox.size) void this.publishOutbox(model, this.checkpoint);
    }, 100);
    this.wake = () => {
      const err = connectionError();
      ended(err);
    };
    try {
      await Promise.race([endedPromise, sub.done.then((end: SubscriptionEnd) => {
        if (end.reason === 'stopped') return;
        throw 'error' in end ? end.error : new Error(`subscription ended: ${end.reason}`);
      })]);
    } finally {
      clearInterval(watchdog);
      if (timer) clearTimeout(timer);
      await sub.stop();
      // Write what was applied before a clean stop; after a failure the model is not trusted.
      if (!failure && !connectionError()) await flush();
      await chain;
      await this.publishing;
    }
    if (failure) throw failure;
  }

  private reportMalformed(m: MalformedMessage): void {
    this.log('warn', `malformed message at sequence ${m.sequence} (${m.subject}): ${m.error.kind}: ${m.error.message}; recorded and skipped`);
    this.emit('malformed', m);
  }

  private commit(sequence: number): void {
    this.checkpoint = sequence;
    for (const w of [...this.waiters]) if (w.sequence <= sequence) w.resolve();
  }

  private publishing?: Promise<void>;
  private readonly published = new Set<string>();

  /**
   * Publishes the outbox's ClientRecordsInvalidated whose GraceEnded is committed. Before each
   * publish the registry subject is checked for the id (a publish from before a crash, beyond
   * JetStream's de-duplication window), and the msgID de-duplicates a race with another replica.
   * The item leaves the outbox when the projector sees the message come back in the stream.
   */
  private publishOutbox(model: ProjectionModel, committed: number): Promise<void> {
    if (this.publishing || this.options.publishInvalidations === false) return this.publishing ?? Promise.resolve();
    this.publishing = this.publishReady(model, committed).finally(() => { this.publishing = undefined; });
    return this.publishing;
  }

  private async publishReady(model: ProjectionModel, committed: number): Promise<void> {
    try {
      const ready = [...model.outbox.values()].filter((o) => o.afterSequence <= committed && !this.published.has(o.id));
      const byCluster = new Map<string, OutboxItem[]>();
      for (const item of ready) {
        const list = byCluster.get(item.cluster) ?? [];
        list.push(item);
        byCluster.set(item.cluster, list);
      }
      for (const [cluster, items] of byCluster) {
        const subject = subjects.registry(this.options.names, cluster);
        const from = Math.min(...items.map((i) => i.afterSequence));
        const existing = await this.options.store.readStream(subject, { from });
        const seen = new Set(existing.messages.map((m) => m.message.id));
        for (const item of items) {
          if (!seen.has(item.id)) {
            await this.options.store.appendToStream(subject, item.message, { expectedVersion: 'any' });
            this.log('info', `published ${item.id} (${item.message.events[0]?.type === 'ClientRecordsInvalidated' ? item.message.events[0].clients.length : 0} clients)`);
          }
          this.published.add(item.id);
        }
      }
    } catch (err) {
      if (!this.stopped) this.log('warn', `could not publish invalidations yet: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
