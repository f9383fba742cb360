import { DecisionMessage, EventBody, GkEvent } from '#contracts';
import { ClusterState } from './state';

export interface SealMeta {
  cluster: string;
  /** Unique id of the decision; becomes the JetStream msgID, so a retried append is de-duplicated. */
  decisionId: string;
  actor: string;
  time: Date;
  causation?: string;
}

/**
 * Stamps the envelope on a decision's events: ids `<decisionId>/<i>`, the time, the actor, the
 * causation, and the epoch each event leaves the cluster in.
 */
export function seal(state: ClusterState, bodies: EventBody[], meta: SealMeta): DecisionMessage {
  let epoch = state.epoch;
  const time = meta.time.toISOString();
  const events = bodies.map((body, i) => {
    if (body.type === 'GraceStarted') epoch = body.recoveryEpoch + 1;
    const event = { ...body, v: 1, id: `${meta.decisionId}/${i}`, cluster: meta.cluster, epoch, time, actor: meta.actor } as GkEvent;
    if (meta.causation !== undefined) event.causation = meta.causation;
    return event;
  });
  return { kind: 'gk.decision', v: 1, id: meta.decisionId, events };
}
