import { EventEmitter } from 'node:events';
import type { DecisionMessage, StreamNames } from '#contracts';
import type { JetStreamEventStore, MalformedMessage } from '#event-store';
import type { NatsConnection } from '@nats-io/transport-node';
import { LOCK_SQL, readPointer, sqlOf, type LivePointer } from './control';
import { connectClient, migrateRegistry } from './database';
import { READ_MODEL_VERSION, readModelName } from './ddl';
import { loadModel } from './loader';
import { OutboxPublisher } from './outbox-publisher';
import { type CommittedBatch, followStream, ReadModelSwapped } from './projection-follower';
import { rebuildReadModel } from './rebuild';

export type { CommittedBatch } from './projection-follower';

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

/**
 * The one writer of a read model. Replicas race for a PostgreSQL advisory lock held on the
 * connection that also does every write, so a projector that loses its connection loses both
 * at once and cannot write after another replica took over. The active projector:
 *
 * - loads its model from the live generation (or builds the first generation by replay),
 * - follows the stream from checkpoint + 1 with an ordered consumer, applies messages to the
 *   model and writes them in batches, each one transaction that also moves the checkpoint
 *   (conditionally: a checkpoint that moved means another writer; stop) (projection-follower.ts),
 * - publishes the ClientRecordsInvalidated its outbox holds once their GraceEnded is committed
 *   (outbox-publisher.ts).
 *
 * This file is the leadership part: sessions, the lock, and choosing to load or rebuild.
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
  private readonly outbox: OutboxPublisher;

  constructor(private readonly options: ProjectorOptions) {
    super();
    this.name = options.name ?? readModelName(options.names.stream);
    this.outbox = new OutboxPublisher({
      store: options.store,
      names: options.names,
      enabled: options.publishInvalidations !== false,
      log: (level, message) => this.log(level, message),
      stopped: () => this.stopped,
    });
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
      await followStream(client, pointer, model, { store: this.options.store, names: this.options.names, name: this.name, maxBatchEvents: this.options.maxBatchEvents, flushDelayMs: this.options.flushDelayMs }, {
        checkpoint: () => this.checkpoint,
        committed: (batch: CommittedBatch) => {
          this.commit(batch.sequence);
          this.emit('committed', batch);
        },
        malformed: (m) => this.reportMalformed(m),
        connectionError: () => connectionError,
        stopped: () => this.stopped,
        setWake: (wake) => { this.wake = wake; },
        outbox: this.outbox,
      });
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private reportMalformed(m: MalformedMessage): void {
    this.log('warn', `malformed message at sequence ${m.sequence} (${m.subject}): ${m.error.kind}: ${m.error.message}; recorded and skipped`);
    this.emit('malformed', m);
  }

  private commit(sequence: number): void {
    this.checkpoint = sequence;
    for (const w of [...this.waiters]) if (w.sequence <= sequence) w.resolve();
  }
}
