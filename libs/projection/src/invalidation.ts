import { createHash } from 'node:crypto';
import type { ClientId, DecisionMessage, GkEventOf, NodeId } from '#contracts';

/** Client ids per message part: 256 KiB of ids keeps a part far below NATS' 1 MiB max_payload. */
const MAX_PART_BYTES = 256 * 1024;

/**
 * The registry's `ClientRecordsInvalidated` messages for one GraceEnded: one per node with
 * invalidated clients (`lost`: what evolve reported dropping, per node), chunked into parts. Everything in them is derived from the GraceEnded and
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
