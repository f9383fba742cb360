import type { Client } from 'pg';
import type { DecisionMessage } from '#contracts';
import type { StoredMessage, Subscription } from '#event-store';
import { CONTROL_SCHEMA, readPointer, sqlOf } from './control';
import { quoteIdent, READ_MODEL_VERSION } from './ddl';
import { applyMalformed, applyMessage, ChangeSet, type ProjectionModel } from './model';
import type { RebuildOptions } from './rebuild';
import { materializeChanges } from './rows';
import { projectedSubjects } from './stream';
import { writeChanges } from './writer';

/**
 * Phase 3: under the pointer's row lock, bring the new generation to at least the live
 * checkpoint, then point the read model at it.
 */
export async function swapIn(model: ProjectionModel, name: string, schema: string, generation: number, options: RebuildOptions) {
  const { client, names } = options;
  const sql = sqlOf(client);
  let changes = new ChangeSet();
  let waiter: { sequence: number; resolve: () => void } | undefined;
  const onApplied = () => {
    if (waiter && model.position >= waiter.sequence) waiter.resolve();
  };
  let sub: Subscription | undefined;
  const follow = async () => {
    sub ??= await options.store.subscribe(projectedSubjects(names), { fromSequence: model.position + 1 }, (stored: StoredMessage<DecisionMessage>) => {
      applyMessage(model, names, stored, changes);
      onApplied();
    }, { onMalformed: (m) => { if (applyMalformed(model, m, changes)) options.onMalformed?.(m); onApplied(); } });
  };
  const reach = async (sequence: number) => {
    if (model.position >= sequence) return;
    await follow();
    const timeoutMs = options.catchUpTimeoutMs ?? 60_000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`rebuild could not reach the live checkpoint ${sequence} within ${timeoutMs} ms (at ${model.position})`)), timeoutMs);
      waiter = { sequence, resolve: () => { clearTimeout(timer); resolve(); } };
      onApplied();
    });
    waiter = undefined;
  };
  const written = { sequence: model.position, events: model.events, messages: model.messages, malformed: model.malformed };
  const writePending = async () => {
    if (changes.empty) return;
    const rows = materializeChanges(model, changes);
    changes = new ChangeSet();
    await writeChanges(client, schema, rows, written.sequence);
    Object.assign(written, { sequence: rows.lastSequence, events: rows.events, messages: rows.messages, malformed: rows.malformed });
  };
  try {
    // Most of the distance outside the lock, so that the live projector is held up only briefly.
    for (let round = 0; round < 3; round++) {
      const live = await readPointer(sql, name);
      const liveCheckpoint = live ? await checkpointOf(client, live.schema) : 0;
      if (model.position >= liveCheckpoint) break;
      await reach(liveCheckpoint);
      await client.query('BEGIN');
      await writePending().then(() => client.query('COMMIT'), async (err) => { await client.query('ROLLBACK'); throw err; });
    }
    await client.query('BEGIN');
    try {
      const live = await readPointer(sql, name, 'FOR UPDATE');
      const liveCheckpoint = live ? await checkpointOf(client, live.schema) : 0;
      await reach(liveCheckpoint);
      await writePending();
      if (live) {
        await sql(`UPDATE ${CONTROL_SCHEMA}.read_models SET schema = $2, generation = $3, version = $4, swapped_at = now() WHERE name = $1`,
          [name, schema, generation, READ_MODEL_VERSION]);
        await sql(`UPDATE ${CONTROL_SCHEMA}.generations SET state = 'retired' WHERE name = $1 AND generation = $2`, [name, live.generation]);
      } else {
        await sql(`INSERT INTO ${CONTROL_SCHEMA}.read_models (name, schema, generation, version, swapped_at) VALUES ($1, $2, $3, $4, now())`,
          [name, schema, generation, READ_MODEL_VERSION]);
      }
      await sql(`UPDATE ${CONTROL_SCHEMA}.generations SET state = 'live' WHERE name = $1 AND generation = $2`, [name, generation]);
      await client.query('COMMIT');
      return { ...written, previous: live ? { generation: live.generation, schema: live.schema } : undefined };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  } finally {
    await (sub as Subscription | undefined)?.stop();
  }
}

async function checkpointOf(client: Client, schema: string): Promise<number> {
  const r = await client.query<{ sequence: string }>(`SELECT sequence FROM ${quoteIdent(schema)}.checkpoint`);
  return r.rows[0] ? Number(r.rows[0].sequence) : 0;
}
