import { jetstreamManager } from '@nats-io/jetstream';
import { ClientIdSchema, clientOwner, NodeIdSchema, ownerHeading } from '#contracts';
import { retainedHistory } from '#cluster-store';
import { STALE_APPEND, TruncatedHistory } from '#event-store';
import type { AuditFocus, AuditSource } from '#projection';
import { UsageError } from '../args';
import { Failure, type CommandContext, type CommandSpec } from '../command';
import { DATABASE_URL_OPTION, databaseUrlOf } from './replay';
import { historyText } from './retention';

/**
 * `gracectl audit --client X | --node N | --epoch E`: the causal timeline of one client, node or
 * epoch of the cluster — which event recorded, reclaimed, refused or invalidated a record, and
 * why. Read from the client-registry's PostgreSQL read model when a database is given (option or
 * $DATABASE_URL), otherwise rebuilt from the events themselves (`--events` forces that).
 */
export const auditCommand: CommandSpec = {
  name: 'audit',
  synopsis: '--client X | --node N | --epoch E [--json] [--events] [--limit N]',
  summary: 'the causal timeline of a client, a node or an epoch: what recorded, reclaimed, refused or invalidated, and why',
  noOperands: true,
  options: [
    { name: 'client', value: true, valueName: 'HEX', description: 'audit: the client id (its owner string as lowercase hex)' },
    { name: 'node', value: true, valueName: 'ID', description: 'audit: a node id' },
    { name: 'epoch', value: true, valueName: 'E', description: 'audit: an epoch' },
    { name: 'events', value: false, description: 'audit: rebuild the timeline from the events even when a database is given' },
    { name: 'limit', value: true, valueName: 'N', description: 'audit: at most N of the latest events from the database (default 10000)' },
    DATABASE_URL_OPTION,
    { name: 'json', value: false, description: 'print the result as JSON' },
  ],
  async run(ctx, args) {
    const focus = focusOf(ctx, args.options);
    const limitRaw = args.options.get('limit');
    const limit = limitRaw === undefined ? 10_000 : Number(limitRaw);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError(`--limit wants a positive integer, got ${JSON.stringify(limitRaw)}`);
    const url = args.options.has('events') ? undefined : databaseUrlOf(ctx, args.options);
    // Loaded on use: PostgreSQL and TypeORM would add most of a second to every other command.
    const { buildTimeline, timelineText } = await import('#projection');
    const { rows, source, sequence, notice } = url ? await fromDatabase(ctx, url, focus, limit) : await fromEvents(ctx, focus);
    const entries = buildTimeline(rows, focus);
    if (args.options.has('json')) {
      ctx.stdout(JSON.stringify({ focus, ...('client' in focus ? { owner: clientOwner(focus.client) } : {}), source, sequence, ...(notice ? { notice } : {}), entries }, null, 2) + '\n');
      return;
    }
    const what = 'client' in focus ? `client ${ownerHeading(focus.client)}` : 'node' in focus ? `node ${focus.node}` : `epoch ${focus.epoch}`;
    ctx.stdout(`audit of ${what} in cluster ${focus.cluster}, from ${source} at stream sequence ${sequence}\n${notice ? `${notice}\n` : ''}${timelineText(entries)}`);
    ctx.stdout(`(client owners are shown as "text" where printable, as hex otherwise)\n`);
    // Where the stored history starts, after the timeline so that its first line stays the header.
    ctx.stdout(`${await historyText(ctx, await jetstreamManager((await ctx.opened()).nc))}\n`);
  },
};

function focusOf(ctx: CommandContext, options: Map<string, string | true>): AuditFocus {
  const given = ['client', 'node', 'epoch'].filter((k) => options.has(k));
  if (given.length !== 1) throw new UsageError('audit needs exactly one of --client X, --node N, --epoch E');
  const value = String(options.get(given[0]!));
  switch (given[0]) {
    case 'client':
      if (!ClientIdSchema.safeParse(value).success) throw new UsageError(`--client wants the client id as lowercase hex (at most 1024 bytes), got ${JSON.stringify(value)}`);
      return { cluster: ctx.cluster, client: value };
    case 'node':
      if (!NodeIdSchema.safeParse(value).success) throw new UsageError(`invalid node id ${JSON.stringify(value)}`);
      return { cluster: ctx.cluster, node: value };
    default: {
      const epoch = Number(value);
      if (!Number.isSafeInteger(epoch) || epoch < 1) throw new UsageError(`--epoch wants a positive integer, got ${JSON.stringify(value)}`);
      return { cluster: ctx.cluster, epoch };
    }
  }
}

async function fromDatabase(ctx: CommandContext, url: string, focus: AuditFocus, limit: number): Promise<{ rows: AuditSource[]; source: string; sequence: number; notice?: string }> {
  const { auditRowsFromDatabase, connectClient, NoReadModel, poolReadTransaction, readModelName, ReadModelQueries } = await import('#projection');
  let client;
  try {
    client = await connectClient(url, 'gracectl-audit');
  } catch (err) {
    throw new Failure(`cannot reach PostgreSQL (${(err as Error).message}); use --events to rebuild the timeline from the events`);
  }
  try {
    const tx = poolReadTransaction({ connect: async () => ({ query: (text: string, params?: unknown[]) => client.query(text, params), release: () => undefined }) });
    const queries = new ReadModelQueries(tx, readModelName(ctx.names.stream));
    const result = await queries.read(async (sql, schema) => ({ rows: await auditRowsFromDatabase(sql, schema, focus, limit) }));
    return { rows: result.rows, source: `the read model (generation ${result.generation})`, sequence: result.sequence };
  } catch (err) {
    if (err instanceof NoReadModel) throw new Failure(`${err.message}; use --events to rebuild the timeline from the events`);
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * From the events: from where the cluster's stored history starts, saying so when a recorded
 * retention dropped its beginning; a history truncated with no retention recorded is refused.
 */
async function fromEvents(ctx: CommandContext, focus: AuditFocus): Promise<{ rows: AuditSource[]; source: string; sequence: number; notice?: string }> {
  const { auditRowsFromEvents } = await import('#projection');
  const store = await ctx.store();
  let start;
  try {
    start = await retainedHistory(await jetstreamManager((await ctx.opened()).nc), ctx.names, focus.cluster);
  } catch (err) {
    if (err instanceof TruncatedHistory) throw new Failure(err.message);
    throw err;
  }
  const { rows, malformed, sequence } = await auditRowsFromEvents(store, ctx.names, focus.cluster, start.from);
  // The first decision kept links to a dropped one: its link cannot be checked, so readers skip it
  // (fail closed). That is the retention's doing, said in the notice, not a fault to warn of.
  const boundary = start.notice ? malformed.find((m) => m.sequence === start.from && m.error.kind === STALE_APPEND) : undefined;
  for (const m of malformed) if (m !== boundary) ctx.stderr(`warning: skipped malformed message at sequence ${m.sequence}: ${m.error.message}\n`);
  const notice = boundary ? `${start.notice}; the first kept decision (sequence ${boundary.sequence}) links to a dropped one and is not shown` : start.notice;
  if (rows.length === 0) throw new Failure(`cluster ${focus.cluster} has no events${notice ? ` (${notice})` : ''}`);
  return { rows, source: 'the events', sequence, notice };
}
