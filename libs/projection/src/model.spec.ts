import { streamNames, validateDecision, type DecisionMessage } from '#contracts';
import { evolve, holdsValidRecord, initialClusterState, type ClusterState } from '#domain';
import type { StoredMessage } from '#event-store';
import { applyMalformed, applyMessage, ChangeSet, emptyModel, type ProjectionModel } from './model';
import { clientLine, clusterLine, materializeChanges, nodeLines, periodLine } from './rows';
import { mulberry32, Workload } from '#testing';

const names = streamNames('unit');

/** A stream of stored messages from two clusters' workloads, as the projector would receive them. */
function stream(count: number, seed = 1): StoredMessage<DecisionMessage>[] {
  const w = [new Workload({ cluster: 'c1', seed, clientsPerNode: 40 }), new Workload({ cluster: 'c2', seed: seed + 1, nodes: 2, clientsPerNode: 40 })];
  const rng = mulberry32(seed);
  return Array.from({ length: count }, (_, i) => {
    const k = rng() < 0.7 ? 0 : 1;
    const message = w[k]!.next();
    return { sequence: i + 1, subject: `unit.cluster.c${k + 1}`, time: new Date(0), message };
  });
}

/** Every row of the model, rendered as the bulk writer renders them. */
function allRows(model: ProjectionModel): Map<string, string> {
  const rows = new Map<string, string>();
  for (const cm of model.clusters.values()) {
    rows.set(`cluster/${cm.cluster}`, clusterLine(cm));
    for (const line of nodeLines(cm)) rows.set(`node/${line.split('\t').slice(0, 2).join('/')}`, line);
    for (const p of cm.periods.values()) rows.set(`period/${cm.cluster}/${p.recoveryEpoch}`, periodLine(cm.cluster, p));
    for (const [node, byClient] of cm.extras) for (const client of byClient.keys()) rows.set(`client/${cm.cluster}/${node}/${client}`, clientLine(cm, node, client));
  }
  return rows;
}

describe('projection model', () => {
  const messages = stream(3000);

  it('keeps, per cluster, exactly the state evolve builds from the cluster\'s events', () => {
    const model = emptyModel();
    const changes = new ChangeSet();
    for (const m of messages) expect(applyMessage(model, names, m, changes)).toBe(true);
    const plain = new Map<string, ClusterState>();
    for (const m of messages) {
      const cluster = m.subject.split('.')[2]!;
      let s = plain.get(cluster);
      if (!s) plain.set(cluster, (s = initialClusterState()));
      for (const e of m.message.events) evolve(s, e);
    }
    for (const [cluster, s] of plain) expect(model.clusters.get(cluster)!.state).toEqual(s);
    expect(model.position).toBe(3000);
    expect(model.events).toBe(messages.reduce((n, m) => n + m.message.events.length, 0));
  });

  it('ignores a redelivered message (at or below its position) and changes nothing', () => {
    const model = emptyModel();
    for (const m of messages.slice(0, 100)) applyMessage(model, names, m, new ChangeSet());
    const changes = new ChangeSet();
    for (const m of messages.slice(0, 100)) expect(applyMessage(model, names, m, changes)).toBe(false);
    expect(applyMalformed(model, { sequence: 50, subject: 'unit.cluster.c1', error: { kind: 'not-json', message: 'x' }, raw: new Uint8Array() }, changes)).toBe(false);
    expect(changes.empty).toBe(true);
    expect(model.position).toBe(100);
  });

  it('rewrites every row that changed, whatever the batch boundaries (incremental rows = a full rendering)', () => {
    const model = emptyModel();
    const table = new Map<string, string>();
    const rng = mulberry32(7);
    let changes = new ChangeSet();
    const flush = () => {
      const rows = materializeChanges(model, changes);
      for (const line of rows.clusters) table.set(`cluster/${line.split('\t')[0]}`, line);
      for (const cluster of rows.clusterKeys) for (const key of [...table.keys()]) if (key.startsWith(`node/${cluster}/`)) table.delete(key);
      for (const line of rows.nodes) table.set(`node/${line.split('\t').slice(0, 2).join('/')}`, line);
      for (const line of rows.periods) table.set(`period/${line.split('\t').slice(0, 2).join('/')}`, line);
      for (const line of rows.clients) table.set(`client/${line.split('\t').slice(0, 3).join('/')}`, line);
      changes = new ChangeSet();
    };
    for (const m of messages) {
      applyMessage(model, names, m, changes);
      if (rng() < 0.05) flush();
    }
    flush();
    expect(table).toEqual(allRows(model));
  });

  it('knows when and why each dropped record was dropped, and nothing for valid ones', () => {
    const model = emptyModel();
    for (const m of messages) applyMessage(model, names, m, new ChangeSet({ trackRows: false }));
    let dropped = 0;
    for (const cm of model.clusters.values()) {
      for (const [node, byClient] of cm.extras) {
        for (const [client, ex] of byClient) {
          if (holdsValidRecord(cm.state, node, client)) expect(ex.invalidation).toBeUndefined();
          else if (ex.invalidation) {
            dropped++;
            expect(['removed', 'restarted', 'deadline', 'all-reclaimed', 'first-non-reclaim-grant', 'removed', 'admin']).toContain(ex.invalidation.reason);
            expect(ex.invalidation.sequence).toBeLessThanOrEqual(model.position);
          }
        }
      }
    }
    expect(dropped).toBeGreaterThan(10);
  });

  it('derives, for every grace end that lost records, valid ClientRecordsInvalidated messages with deterministic ids', () => {
    const run = () => {
      const model = emptyModel();
      const changes = new ChangeSet({ trackRows: false });
      for (const m of messages) applyMessage(model, names, m, changes);
      return { model, changes };
    };
    const a = run();
    const b = run();
    expect([...a.model.outbox.keys()]).toEqual([...b.model.outbox.keys()]);
    expect(a.model.outbox.size).toBeGreaterThan(0);
    for (const item of a.model.outbox.values()) {
      expect(validateDecision(item.message).ok).toBe(true);
      expect(item.id).toMatch(/^invalidated\/c[12]\/\d+\/node-\d\/0$/);
      const graceEnd = a.changes.audit.find((r) => r.sequence === item.afterSequence && r.event.type === 'GraceEnded')!;
      expect(item.message.events[0]).toMatchObject({ causation: graceEnd.event.id, time: graceEnd.event.time });
    }
  });

  it('settles an outbox item when its message comes back on the registry subject', () => {
    const model = emptyModel();
    for (const m of messages) applyMessage(model, names, m, new ChangeSet());
    const [item] = [...model.outbox.values()];
    const changes = new ChangeSet();
    applyMessage(model, names, { sequence: model.position + 1, subject: `unit.registry.${item!.cluster}`, time: new Date(0), message: item!.message }, changes);
    expect(model.outbox.has(item!.id)).toBe(false);
    expect([...changes.outboxRemoved]).toEqual([item!.id]);
    expect(changes.audit).toHaveLength(1);
    // A registry message changes no cluster state.
    expect(changes.clusters.size).toBe(0);
  });

  it('records a message on a subject it does not project as malformed instead of guessing', () => {
    const model = emptyModel();
    const changes = new ChangeSet();
    applyMessage(model, names, { ...messages[0]!, subject: 'unit.other.c1' }, changes);
    expect(changes.malformedRows).toEqual([expect.objectContaining({ sequence: 1, kind: 'unknown-subject' })]);
    expect(model.clusters.size).toBe(0);
  });
});
