import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Client } from 'pg';
import { encodeDecision, subjects, type DecisionMessage, type StreamNames } from '#contracts';
import { type ClusterState } from '#domain';
import { Workload, type WorkloadOptions } from '#testing';

/** Publishes `count` decisions of a workload, pipelined (the test stream has no other writer). */
export async function publishWorkload(nc: NatsConnection, names: StreamNames, workload: Workload, count: { events?: number; decisions?: number }, onMessage?: (m: DecisionMessage) => void): Promise<void> {
  const js = jetstream(nc);
  let inflight: Promise<unknown>[] = [];
  const startEvents = workload.events;
  const startDecisions = workload.decisions;
  while ((count.events === undefined || workload.events - startEvents < count.events) && (count.decisions === undefined || workload.decisions - startDecisions < count.decisions)) {
    const m = workload.next();
    onMessage?.(m);
    inflight.push(js.publish(subjects.cluster(names, m.events[0]!.cluster), encodeDecision(m), { msgID: m.id }));
    if (inflight.length >= 500) {
      await Promise.all(inflight);
      inflight = [];
    }
  }
  await Promise.all(inflight);
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
