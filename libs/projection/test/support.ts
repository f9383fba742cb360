import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Client } from 'pg';
import { encodeDecision, subjects, type DecisionMessage, type StreamNames } from '#contracts';
import { type ClusterState } from '#domain';
import { Workload, type WorkloadOptions } from '#testing';

/**
 * Publishes `count` decisions of a workload, each linked to the subject's previous message as the
 * append protocol requires (readers ignore a cluster message without its expectation). One at a
 * time: the live projection may publish registry messages in between, so sequences cannot be
 * predicted for a pipeline.
 */
export async function publishWorkload(nc: NatsConnection, names: StreamNames, workload: Workload, count: { events?: number; decisions?: number }, onMessage?: (m: DecisionMessage) => void): Promise<void> {
  const js = jetstream(nc);
  const jsm = await js.jetstreamManager();
  const last = new Map<string, number>();
  const startEvents = workload.events;
  const startDecisions = workload.decisions;
  while ((count.events === undefined || workload.events - startEvents < count.events) && (count.decisions === undefined || workload.decisions - startDecisions < count.decisions)) {
    const m = workload.next();
    onMessage?.(m);
    const subject = subjects.cluster(names, m.events[0]!.cluster);
    const previous = last.get(subject) ?? (await jsm.streams.getMessage(names.stream, { last_by_subj: subject }).then((s) => s?.seq ?? 0, () => 0));
    last.set(subject, (await js.publish(subject, encodeDecision(m), { msgID: m.id, expect: { lastSubjectSequence: previous } })).seq);
  }
}

export function workload(options: Partial<WorkloadOptions> & { cluster: string }): Workload {
  return new Workload({ seed: 1, ...options });
}

export async function pgClient(url: string): Promise<Client> {
  const c = new Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** The valid records of every node of a state, as sorted `node/client@epoch` strings. */
export function validRecords(s: ClusterState): string[] {
  const out: string[] = [];
  for (const [node, r] of s.records) {
    for (const [client, rec] of r.current) out.push(`${node}/${client}@${rec.epoch}`);
    if (r.recovery) for (const [client, rec] of r.recovery) if (!r.current.has(client)) out.push(`${node}/${client}@${rec.epoch}`);
  }
  return out.sort();
}

export { waitUntil } from '#testing';
