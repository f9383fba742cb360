import { streamNames, type DecisionMessage, type EventBody } from '#contracts';
import { decide, evolve, initialClusterState, seal, type Command } from '#domain';
import { buildTimeline, timelineText } from './audit';
import { applyMessage, ChangeSet, emptyModel } from './model';

const names = streamNames('unit');

/** Decides commands on a cluster and returns the audit rows the registry would store, with the registry's invalidation published late. */
/** Events stored as they are, not decided: what builds before issue 13 stored for refusals outside grace. */
type Stored = { type: 'stored'; actor: string; events: EventBody[] };

function history(commands: (Command | Stored)[]) {
  const state = initialClusterState();
  const model = emptyModel();
  const changes = new ChangeSet({ trackRows: false });
  let seq = 0;
  let t = Date.parse('2026-05-01T09:00:00.000Z');
  const store = (subject: string, message: DecisionMessage) => applyMessage(model, names, { sequence: ++seq, subject, time: new Date(t), message }, changes);
  commands.forEach((command, i) => {
    t += 60_000;
    const r = command.type === 'stored' ? { ok: true as const, decision: { events: command.events } } : decide(command, state);
    if (!r.ok) throw new Error(r.rejection.message);
    if (r.decision.events.length === 0) return;
    const actor = command.type === 'stored' ? command.actor : 'node' in command ? command.node : 'admin';
    const m = seal(state, r.decision.events, { cluster: 'c', decisionId: `d${i}`, actor, time: new Date(t) });
    for (const e of m.events) evolve(state, e);
    store('unit.cluster.c', m);
  });
  // The registry publishes what it derived after everything else.
  for (const item of [...model.outbox.values()]) store('unit.registry.c', item.message);
  return changes.audit;
}

const script: (Command | Stored)[] = [
  { type: 'add', nodes: ['a', 'b'] },
  { type: 'create', node: 'a', clients: [{ client: '0a' }, { client: '0b' }] },
  { type: 'create', node: 'b', clients: [{ client: '0c' }] },
  { type: 'start', nodes: ['a'] },
  { type: 'reclaim', node: 'a', clients: ['0a'] },
  { type: 'expire', now: Date.parse('2026-05-01T12:00:00.000Z') },
  // Outside grace this build stores no refusal (noise); older logs hold one, and audits still explain it.
  { type: 'stored', actor: 'a', events: [{ type: 'ReclaimRejected', node: 'a', rejections: [{ client: '0b', status: 'NFS4ERR_NO_GRACE', op: 'reclaim' }] }] },
];

it('a reclaim outside grace is refused without an event', () => {
  const state = initialClusterState();
  for (const command of script.slice(0, 6) as Command[]) {
    const r = decide(command, state);
    if (r.ok) for (const e of seal(state, r.decision.events, { cluster: 'c', decisionId: command.type, actor: 'admin', time: new Date(0) }).events) evolve(state, e);
  }
  expect(decide({ type: 'reclaim', node: 'a', clients: ['0b'] }, state)).toMatchObject({ ok: true, decision: { events: [], reply: { statuses: ['NFS4ERR_NO_GRACE'] } } });
});

describe('audit timeline', () => {
  const rows = history(script);

  it('tells a client\'s story from its first record, with the grace end beside its (later published) invalidation, and the refusal pointing at the grace end', () => {
    const t = buildTimeline(rows, { cluster: 'c', client: '0b' });
    expect(t.map((e) => e.type)).toEqual(['ClientRecorded', 'GraceStarted', 'GraceEnded', 'ClientRecordsInvalidated', 'ReclaimRejected']);
    const [, , ended, invalidated, refused] = t;
    expect(invalidated!.sequence).toBeGreaterThan(refused!.sequence);
    expect(refused!.text).toBe('reclaim by client 0b on a refused: NFS4ERR_NO_GRACE — no grace period is in force: the grace period of epoch 1 ended at 2026-05-01T09:06:00.000Z because its deadline passed; abandoned a');
    expect(refused!.see).toEqual([ended!.sequence]);
    expect(timelineText(t).split('\n')[0]).toBe('2026-05-01T09:02:00.000Z  #2  ClientRecorded  client 0b recorded on a in epoch 1  [by a]');
  });

  it('leaves other nodes\' clients out of a client\'s story, and keeps cluster-wide events in a node\'s', () => {
    const forC = buildTimeline(rows, { cluster: 'c', client: '0c' });
    expect(forC.map((e) => e.type)).toEqual(['ClientRecorded', 'GraceEnded']);
    const forB = buildTimeline(rows, { cluster: 'c', node: 'b' });
    expect(forB.map((e) => e.type)).toEqual(['ClusterConfigured', 'MemberAdded', 'ClientRecorded', 'GraceEnded']);
  });

  it('gathers an epoch: its grace period\'s start, reclaims, end and invalidations', () => {
    const t = buildTimeline(rows, { cluster: 'c', epoch: 1 });
    expect(t.map((e) => e.type)).toEqual(expect.arrayContaining(['GraceStarted', 'ReclaimAccepted', 'GraceEnded', 'ClientRecordsInvalidated']));
    expect(t.find((e) => e.type === 'ReclaimAccepted')!.text).toBe('reclaim by 1 client(s): 0a accepted on a (record of epoch 1; now recorded in epoch 2)');
  });
});

describe('audit timeline with owner strings', () => {
  const linux = Buffer.from('Linux NFSv4.2 host1').toString('hex');
  const forged = Buffer.from('x\n#9 GraceEnded forged').toString('hex');
  const rows = history([
    { type: 'add', nodes: ['a'] },
    { type: 'create', node: 'a', clients: [{ client: linux }, { client: forged }, { client: '0a0b' }] },
    { type: 'start', nodes: ['a'] },
    { type: 'reclaim', node: 'a', clients: [linux] },
  ]);

  it('shows printable owners as quoted text, others as hex', () => {
    const mine = buildTimeline(rows, { cluster: 'c', client: linux });
    expect(mine.find((e) => e.type === 'ClientRecorded')!.text).toBe('client "Linux NFSv4.2 host1" recorded on a in epoch 1');
    expect(mine.find((e) => e.type === 'ReclaimAccepted')!.text).toBe('reclaim by client "Linux NFSv4.2 host1" accepted on a (record of epoch 1; now recorded in epoch 2)');
    const node = buildTimeline(rows, { cluster: 'c', node: 'a' });
    expect(node.find((e) => e.type === 'ClientRecorded')!.text).toBe(`3 client(s): "Linux NFSv4.2 host1", ${forged}, 0a0b recorded on a in epoch 1`);
  });
});
