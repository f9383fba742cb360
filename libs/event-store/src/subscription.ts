import type { Consumer, ConsumerMessages, ConsumerNotification } from '@nats-io/jetstream';
import { setTimeout as sleep } from 'node:timers/promises';
import { jitteredDelay } from './backoff';
import { Chain, fromConsumer, TruncatedHistory } from './chain';
import { SUBSCRIBE_PULL_MESSAGES, type StreamAccess } from './stream-access';
import type { MalformedHandler, StoredMessage } from './types';

export interface SubscribeOptions {
  /** First stream sequence to deliver (a projection passes checkpoint + 1). */
  fromSequence: number;
}

export interface SubscribeHooks {
  /** Overrides the store's malformed-message reporter for this subscription. */
  onMalformed?: MalformedHandler;
  /** Consumer life events (recreated after a reconnect, heartbeats missed, ...) for logs and metrics. */
  onStatus?: (status: ConsumerNotification) => void;
}

export type SubscriptionEnd =
  | { reason: 'stopped'; lastSequence: number }
  | { reason: 'connection-closed'; lastSequence: number }
  | { reason: 'handler-failed'; lastSequence: number; error: unknown }
  | { reason: 'failed'; lastSequence: number; error: unknown };

export interface Subscription {
  /** Stops delivery; resolves once the handler in progress, if any, has returned. */
  stop(): Promise<SubscriptionEnd>;
  /**
   * Settles when delivery ends. Never rejects (a forgotten subscription must not become an unhandled
   * rejection); a failed handler ends it with `handler-failed`, and `lastSequence` is the last
   * message handled, so the caller can resubscribe from its checkpoint.
   */
  done: Promise<SubscriptionEnd>;
}

/**
 * Live subscription: delivers every message matching `filterSubject` (wildcards allowed) from
 * `fromSequence` on, in stream order, one at a time: an async handler is awaited before the next
 * message is delivered. Backed by an ordered consumer, which recreates itself from the last
 * delivered sequence after a reconnect, a server restart or a gap; if the client gives up, a fresh
 * one is created here.
 */
export async function subscribe<M>(
  access: StreamAccess<M>,
  filterSubject: string,
  opts: SubscribeOptions,
  handler: (message: StoredMessage<M>) => void | Promise<void>,
  hooks: SubscribeHooks = {},
): Promise<Subscription> {
  access.checkSubject(filterSubject, true);
  const onMalformed = hooks.onMalformed ?? access.onMalformed;
  let next = Math.max(1, Math.floor(opts.fromSequence));
  // One chain for the whole subscription: what it learnt stays true across consumer restarts.
  const chain = new Chain(access.lookup, next === 1, access.linkedSubjects);
  let stopped = false;
  let current: { consumer: Consumer; messages: ConsumerMessages } | undefined;

  const open = async () => {
    const consumer = await access.retryTransient(() => access.js.consumers.get(access.names.stream, {
      filter_subjects: filterSubject,
      opt_start_seq: next,
    }));
    const messages = await consumer.consume({ max_messages: SUBSCRIBE_PULL_MESSAGES });
    if (hooks.onStatus) void forwardStatus(messages, hooks.onStatus);
    current = { consumer, messages };
  };
  const close = () => {
    if (!current) return;
    current.messages.stop();
    // The ordered consumer is ephemeral and would linger until its inactivity threshold.
    current.consumer.delete().catch(() => undefined);
    current = undefined;
  };

  // The first consumer is created before returning, so a missing stream fails the call itself.
  await open();

  const run = async (): Promise<SubscriptionEnd> => {
    for (let restarts = 0; ; restarts++) {
      const live = current;
      if (live) {
        try {
          for await (const m of live.messages) {
            if (stopped) break;
            const raw = fromConsumer(m);
            const judged = chain.judge(raw);
            const stored = access.decode(raw, typeof judged === 'boolean' ? judged : await judged);
            if ('error' in stored) {
              access.report(stored, onMalformed);
            } else {
              try {
                const pending = handler(stored);
                // Only a promise is awaited: a microtask per message is measurable in a catch-up.
                if (pending) await pending;
              } catch (error) {
                return { reason: 'handler-failed', lastSequence: next - 1, error };
              }
            }
            next = m.seq + 1;
            restarts = 0;
          }
        } catch (error) {
          // A truncated log stays truncated: no reopening makes it whole.
          if (error instanceof TruncatedHistory) return { reason: 'failed', lastSequence: next - 1, error };
          // The iterator failed (e.g. the consumer could not be recreated 30 times in a row):
          // a fresh ordered consumer from `next` is the same recovery, one level up.
        } finally {
          close();
        }
      }
      if (stopped) return { reason: 'stopped', lastSequence: next - 1 };
      if (access.nc.isClosed()) return { reason: 'connection-closed', lastSequence: next - 1 };
      await sleep(jitteredDelay(restarts, 100, 5000));
      if (stopped) return { reason: 'stopped', lastSequence: next - 1 };
      try {
        await open();
      } catch {
        // Retried on the next turn of the loop, with a longer pause.
      }
    }
  };
  const done = run()
    .catch((error: unknown): SubscriptionEnd => ({ reason: 'failed', lastSequence: next - 1, error }))
    .finally(close);
  return {
    done,
    stop: () => {
      stopped = true;
      current?.messages.stop();
      return done;
    },
  };
}

async function forwardStatus(messages: ConsumerMessages, onStatus: (s: ConsumerNotification) => void): Promise<void> {
  try {
    for await (const status of messages.status()) {
      try {
        onStatus(status);
      } catch {
        // Observability must never break delivery.
      }
    }
  } catch {
    // The status iterator ends with the messages iterator.
  }
}
