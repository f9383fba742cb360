import { jetstreamManager, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { streamNames, subjects, type StreamNames } from '#contracts';
import { uniquePrefix } from '#infra';

/** NATS URL of this jest run (set by test/support/global-setup.ts). */
export function testNatsUrl(): string {
  return required('GK_TEST_NATS_URL');
}

/** This jest run's own PostgreSQL database, dropped when the run ends. */
export function testDatabaseUrl(): string {
  return required('GK_TEST_DATABASE_URL');
}

/**
 * Stream and subject prefix no other test or run uses. The NATS server is shared with other runs
 * and people: delete the stream with `cleanupStream` when done.
 */
export function testStreamNames(label: string): StreamNames {
  return streamNames(uniquePrefix(label));
}

/** Deletes the test's stream and its snapshot bucket; one that was never created is fine. */
export async function cleanupStream(nc: NatsConnection, names: StreamNames): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const stream of [names.stream, `KV_${subjects.snapshotBucket(names)}`]) {
    try {
      await jsm.streams.delete(stream);
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) continue;
      throw err;
    }
  }
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run tests through jest (npm test), whose global setup (test/support/global-setup.ts) sets it`);
  }
  return value;
}
