import { createHash } from 'node:crypto';
import type { ClientId, DecisionMessage, GkEventOf, NodeId } from '#contracts';
import type { ClusterState } from '#domain';

/** Client ids per message part: 256 KiB of ids keeps a part far below NATS' 1 MiB max_payload. */
const MAX_PART_BYTES = 256 * 1024;

/**
 * The records a GraceEnded invalidates (SPEC I4): per node, the clients in its recovery set that
 * were not reclaimed, i.e. exactly what `evolve` drops. Call it on the state just before
 * applying the GraceEnded. Sorted, so every replica and every replay derives the same list.
 */
export function unreclaimedRecords(s: ClusterState): Map<NodeId, ClientId[]> {
  const out = new Map<NodeId, ClientId[]>();
  for (const node of [...s.records.keys()].sort()) {
    const r = s.records.get(node)!;
    if (!r.recovery) continue;
    const lost: ClientId[] = [];
    for (const client of r.recovery.keys()) if (!r.current.has(client)) lost.push(client);
    if (lost.length) out.set(node, lost.sort());
  }
  return out;
}

/**
 * The registry's `ClientRecordsInvalidated` messages for one GraceEnded: one per node with
 * invalidated clients, chunked into parts. Everything in them is derived from the GraceEnded and
 * the state, including the message id (`invalidated/<cluster>/<R>/<node>/<part>`), which is the
 * JetStream msgID: replicas and restarts that publish the same part are de-duplicated.
 */
export function invalidationMessages(cluster: string, graceEnded: GkEventOf<'GraceEnded'>, lost: Map<NodeId, ClientId[]>): DecisionMessage[] {
  const messages: DecisionMessage[] = [];
  for (const [node, clients] of lost) {
    const parts = chunkByBytes(clients, MAX_PART_BYTES);
    parts.forEach((part, index) => {
      const id = invalidationMessageId(cluster, graceEnded.recoveryEpoch, node, index);
      const event: GkEventOf<'ClientRecordsInvalidated'> = {
        type: 'ClientRecordsInvalidated',
        v: 1,
        id: `${id}/0`,
        cluster,
        epoch: graceEnded.epoch,
        time: graceEnded.time,
        actor: 'registry',
        causation: graceEnded.id,
        recoveryEpoch: graceEnded.recoveryEpoch,
        reason: graceEnded.reason,
        node,
        clients: part,
        part: index,
        parts: parts.length,
      };
      messages.push({ kind: 'gk.decision', v: 1, id, events: [event] });
    });
  }
  return messages;
}

export function invalidationMessageId(cluster: string, recoveryEpoch: number, node: string, part: number): string {
  const plain = `invalidated/${cluster}/${recoveryEpoch}/${node}/${part}`;
  // Ids are at most 200 characters and the event id adds `/0`.
  if (plain.length <= 190) return plain;
  return `invalidated/${createHash('sha256').update(plain).digest('hex')}`;
}

function chunkByBytes(clients: ClientId[], maxBytes: number): ClientId[][] {
  const parts: ClientId[][] = [];
  let current: ClientId[] = [];
  let bytes = 0;
  for (const client of clients) {
    const size = client.length + 3;
    if (current.length > 0 && bytes + size > maxBytes) {
      parts.push(current);
      current = [];
      bytes = 0;
    }
    current.push(client);
    bytes += size;
  }
  if (current.length) parts.push(current);
  return parts;
}
