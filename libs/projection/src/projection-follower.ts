import type { Client } from 'pg';
import type { DecisionMessage, StreamNames } from '#contracts';
import type { JetStreamEventStore, MalformedMessage, Subscription, SubscriptionEnd } from '#event-store';
import { readPointer, sqlOf, type LivePointer } from './control';
import { applyMalformed, applyMessage, ChangeSet, type ProjectionModel } from './model';
import type { OutboxPublisher } from './outbox-publisher';
import { materializeChanges } from './rows';
import { projectedSubjects } from './stream';
import { writeChanges } from './writer';

export interface CommittedBatch {
  sequence: number;
  events: number;
  messages: number;
  malformed: number;
}

/** The live generation changed under the projector (a replay swapped a new one in). */
export class ReadModelSwapped extends Error {
  override readonly name = 'ReadModelSwapped';
}

export interface FollowSettings {
  store: JetStreamEventStore<DecisionMessage>;
  names: StreamNames;
  /** The read model's name (its live pointer). */
  name: string;
  maxBatchEvents?: number;
  flushDelayMs?: number;
}

/** What the follower tells the projector, and asks it. */
export interface FollowHooks {
  /** The committed checkpoint the next batch moves on from. */
  checkpoint(): number;
  committed(batch: CommittedBatch): void;
  malformed(m: MalformedMessage): void;
  /** The database connection's error, once it failed. */
  connectionError(): Error | undefined;
  stopped(): boolean;
  /** Installs what a stop or a connection failure calls to end the follow at once. */
  setWake(wake: () => void): void;
  outbox: OutboxPublisher;
}

/**
 * Follows the stream from the model's position until stopped or something fails (then throws):
 * applies each message to the model and writes them in batches (at most `maxBatchEvents`, or
 * what came within `flushDelayMs`), each batch one transaction that also moves the checkpoint
 * and first checks the live generation is still `pointer`'s.
 */
export async function followStream(client: Client, pointer: LivePointer, model: ProjectionModel, settings: FollowSettings, hooks: FollowHooks): Promise<void> {
  const { names, store, name } = settings;
  const connectionError = hooks.connectionError;
  const maxEvents = settings.maxBatchEvents ?? 5000;
  const delay = settings.flushDelayMs ?? 5;
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
      const from = hooks.checkpoint();
      await client.query('BEGIN');
      try {
        const live = await readPointer(sqlOf(client), name, 'FOR SHARE');
        if (!live || live.generation !== pointer.generation) throw new ReadModelSwapped();
        await writeChanges(client, pointer.schema, rows, from);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
      hooks.committed({ sequence: rows.lastSequence, events: rows.events, messages: rows.messages, malformed: rows.malformed });
      if (model.outbox.size) void hooks.outbox.publish(model, rows.lastSequence);
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

  const sub: Subscription = await store.subscribe(projectedSubjects(names), { fromSequence: model.position + 1 }, async (stored) => {
    if (failure) throw failure;
    applyMessage(model, names, stored, changes);
    await schedule();
    if (failure) throw failure;
  }, {
    onMalformed: (m) => {
      if (applyMalformed(model, m, changes)) hooks.malformed(m);
      void schedule();
    },
  });
  if (model.outbox.size) void hooks.outbox.publish(model, model.position);
  let ticks = 0;
  const watchdog = setInterval(() => {
    const err = connectionError();
    if (err) ended(err);
    if (hooks.stopped()) ended();
    // Retry publishes that failed (NATS away) even when no new batch comes to trigger them.
    if (++ticks % 20 === 0 && model.outbox.size) void hooks.outbox.publish(model, hooks.checkpoint());
  }, 100);
  hooks.setWake(() => ended(connectionError()));
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
    await hooks.outbox.publishing;
  }
  if (failure) throw failure;
}
