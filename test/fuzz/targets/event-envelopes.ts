import fc from 'fast-check';
import { decodeDecision, type DecisionMessage, encodeDecision, validateDecision } from '#contracts';
import { expectThat, type FuzzTarget } from '../harness';
import { jsonText, mutatedBytes, mutatedJson } from '../mutators';

/**
 * Decision envelopes as every reader takes them off the stream (libs/contracts' decision codec):
 * bytes that may be anything anyone published on a cluster subject. The codec answers a typed
 * error or a decision that is valid again when written back and reads back to itself.
 */
const meta = (i: number) => ({ v: 1, id: `d1/${i}`, cluster: 'c1', epoch: 2, time: '2026-01-01T00:00:00.000Z', actor: 'node-agent:a', causation: 'json:7' });
const client = 'ab'.repeat(8);
const EVENTS: Record<string, unknown>[] = [
  { type: 'ClusterConfigured', config: { leaseTimeMs: 90_000, graceTimeMs: 90_000, deadlinePolicy: 'abandon', exitPolicy: 'all-clear' } },
  { type: 'MemberAdded', node: 'a' }, { type: 'MemberRemoved', node: 'b', abandoned: true }, { type: 'NodeEnforcing', node: 'a' },
  { type: 'NodeEnforcementLifted', node: 'a' }, { type: 'GraceStarted', recoveryEpoch: 1, nodes: ['a', 'b'] },
  { type: 'NodeJoinedGrace', node: 'b', recoveryEpoch: 1 }, { type: 'NeedLifted', node: 'a' },
  { type: 'GraceEnded', recoveryEpoch: 1, reason: 'all-reclaimed', abandonedNodes: [] },
  { type: 'ClientRecorded', node: 'a', clients: [{ client, principalHash: 'cd'.repeat(32), hasSession: true }] },
  { type: 'ClientRemoved', node: 'a', clients: [client] }, { type: 'ReclaimAccepted', node: 'a', recoveryEpoch: 1, clients: [client] },
  { type: 'ReclaimRejected', node: 'a', rejections: [{ client, status: 'NFS4ERR_NO_GRACE', op: 'reclaim' }] },
  { type: 'ReclaimCompleted', node: 'a', clients: [client] }, { type: 'FirstNonReclaimGrant', node: 'a' },
  { type: 'ClientRecordsInvalidated', recoveryEpoch: 1, reason: 'deadline', node: 'b', clients: [client], part: 0, parts: 1 },
  { type: 'ClusterConfigured', config: { leaseTimeMs: 90_000, graceTimeMs: 90_000, deadlinePolicy: 'wait', exitPolicy: 'all-clear', liveness: { deadAfterMs: 5000, policy: 'move', standby: 'a' } } },
  { type: 'MemberSilent', node: 'b', host: 'b', silentForMs: 5001, deadAfterMs: 5000, policy: 'move', policyRefused: 'standby host a is silent too' },
  { type: 'MemberHeard', node: 'b', host: 'b' },
];
/** Valid decisions of one to three events (the corpus is checked valid by the fuzz suite). */
export const DECISION_CORPUS: DecisionMessage[] = EVENTS.map((e, i) => ({
  kind: 'gk.decision', v: 1, id: `d${i}`,
  events: [e, EVENTS[(i + 1) % EVENTS.length]!, EVENTS[(i + 7) % EVENTS.length]!].slice(0, 1 + (i % 3)).map((x, k) => ({ ...meta(k), ...x })),
} as DecisionMessage));

export const eventEnvelopes: FuzzTarget<Uint8Array> = {
  name: 'event-envelopes',
  covers: ['libs/contracts/src/'],
  interface: 'decision envelopes on the stream (libs/contracts decodeDecision / validateDecision)',
  arbitrary: fc.oneof(
    mutatedBytes(DECISION_CORPUS.map(encodeDecision)),
    mutatedJson(DECISION_CORPUS).map((v) => new TextEncoder().encode(jsonText(v))),
  ),
  check(data) {
    const decoded = decodeDecision(data);
    if (!decoded.ok) {
      expectThat(decoded.error.message.length <= 64 * 1024, `a bounded error message (${decoded.error.message.length} characters)`);
      return;
    }
    const again = validateDecision(decoded.value);
    expectThat(again.ok, `a decision read is valid when written back${again.ok ? '' : `: ${again.error.message}`}`);
    expectThat(JSON.stringify(decodeDecision(encodeDecision(decoded.value))) === JSON.stringify(decoded), 'a decision reads back to itself');
  },
};
