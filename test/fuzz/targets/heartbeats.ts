import fc from 'fast-check';
import { decodeHeartbeat, encodeHeartbeat, type Heartbeat } from '#contracts';
import { expectThat, type FuzzTarget } from '../harness';
import { jsonText, mutatedBytes, mutatedJson } from '../mutators';

/**
 * Agents' heartbeats as the coordinator's liveness watcher takes them off core NATS: bytes anyone
 * allowed to publish on the heartbeat subject may send. The decoder answers a bounded typed error
 * or a heartbeat that encodes and decodes back to itself.
 */
export const HEARTBEAT_CORPUS: Heartbeat[] = [
  { kind: 'gk.heartbeat', v: 1, cluster: 'c1', host: 'a', identities: ['a'], seq: 0, sentAt: 1_767_225_600_000 },
  { kind: 'gk.heartbeat', v: 1, cluster: 'prod', host: 'nfs-1.example', identities: ['nfs-1.example', 'vip:10.0.0.7'], seq: 123_456, sentAt: 1_767_225_600_123 },
];

export const heartbeats: FuzzTarget<Uint8Array> = {
  name: 'heartbeats',
  interface: 'agents\' heartbeats on core NATS (libs/contracts decodeHeartbeat)',
  arbitrary: fc.oneof(
    mutatedBytes(HEARTBEAT_CORPUS.map(encodeHeartbeat)),
    mutatedJson(HEARTBEAT_CORPUS).map((v) => new TextEncoder().encode(jsonText(v))),
  ),
  check(data) {
    const decoded = decodeHeartbeat(data);
    if (!decoded.ok) {
      expectThat(decoded.error.length <= 64 * 1024, `a bounded error message (${decoded.error.length} characters)`);
      return;
    }
    const again = decodeHeartbeat(encodeHeartbeat(decoded.value));
    expectThat(again.ok && JSON.stringify(again.value) === JSON.stringify(decoded.value), 'a heartbeat reads back to itself');
  },
};
