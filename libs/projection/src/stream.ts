import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { StreamNames } from '#contracts';

/**
 * The subjects the registry projects: `<prefix>.cluster.<id>` and `<prefix>.registry.<id>`.
 * Two tokens after the prefix, so nothing else that lands in the stream under the prefix (such
 * as request subjects `<prefix>.rpc.<service>.<id>`) is mistaken for an event.
 */
export function projectedSubjects(names: StreamNames): string {
  return `${names.prefix}.*.*`;
}

/** Stream sequence of the last message the registry projects (0 when there is none). */
export async function lastEventSequence(nc: NatsConnection, names: StreamNames): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const last = await jsm.streams.getMessage(names.stream, { last_by_subj: projectedSubjects(names) });
  return last?.seq ?? 0;
}
