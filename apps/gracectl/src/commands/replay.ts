import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { incompleteHistories } from '#cluster-store';
import type { RebuildProgress, RebuildResult } from '#projection';
import { UsageError } from '../args';
import { Failure, type CommandContext, type CommandSpec } from '../command';

export const DATABASE_URL_OPTION = {
  name: 'database-url',
  value: true,
  valueName: 'URL',
  description: 'PostgreSQL of the client-registry (default: $DATABASE_URL)',
} as const;

export function databaseUrlOf(ctx: CommandContext, options: Map<string, string | true>): string | undefined {
  const given = options.get('database-url');
  return typeof given === 'string' ? given : ctx.env.DATABASE_URL || undefined;
}

/**
 * `gracectl replay`: rebuilds the client-registry's PostgreSQL read model from the first event
 * into a fresh generation and swaps it in atomically while the live projection keeps serving.
 * One read model covers every cluster of the stream (the prefix), so --cluster does not narrow it.
 */
export const replayCommand: CommandSpec = {
  name: 'replay',
  synopsis: '[--database-url URL] [--json]',
  summary: 'rebuild the PostgreSQL read model from the first event and swap it in (progress on stderr)',
  noOperands: true,
  options: [DATABASE_URL_OPTION, { name: 'json', value: false, description: 'print the result as JSON' }],
  async run(ctx, args) {
    const url = databaseUrlOf(ctx, args.options);
    if (!url) throw new UsageError('replay needs the registry database: --database-url URL or $DATABASE_URL');
    // Loaded on use: PostgreSQL and TypeORM would add most of a second to every other command.
    const { connectClient, migrateRegistry, rebuildReadModel, RebuildRefused } = await import('#projection');
    const opened = await ctx.opened();
    await refuseIncompleteHistory(opened.nc, ctx);
    let client;
    try {
      await migrateRegistry(url);
      client = await connectClient(url, 'gracectl-replay');
    } catch (err) {
      throw new Failure(`cannot use PostgreSQL at ${redact(url)}: ${(err as Error).message}`);
    }
    const bar = new ProgressBar(ctx.stderr, Boolean(process.stderr.isTTY));
    try {
      const result = await rebuildReadModel({ client, databaseUrl: url, natsUrl: ctx.natsUrl, nc: opened.nc, store: opened.store, names: ctx.names, onProgress: (p) => bar.update(p) });
      bar.done();
      ctx.stdout(args.options.has('json') ? JSON.stringify(result, null, 2) + '\n' : summaryText(result));
    } catch (err) {
      bar.done();
      if (err instanceof RebuildRefused) throw new Failure(err.message);
      throw new Failure(`replay failed: ${(err as Error).message}`);
    } finally {
      await client.end().catch(() => undefined);
    }
  },
};

/**
 * A replay rebuilds the read model from the first event and then drops the old generation. Where
 * a retention dropped the start of a cluster's history, the current read model is the only place
 * that still holds its records and audits: a rebuild from what is kept would lose them, so it is
 * refused, saying where each history starts (a truncated one, with no retention, all the more).
 */
async function refuseIncompleteHistory(nc: NatsConnection, ctx: CommandContext): Promise<void> {
  const incomplete = await incompleteHistories(await jetstreamManager(nc), ctx.names);
  if (incomplete.length === 0) return;
  throw new Failure(`replay refused: the event log no longer holds every cluster's whole history, and the read model it would replace does:\n  ${incomplete.join('\n  ')}\n` +
    'Back up the read model\'s database; to rebuild anyway, restore the full log first (docs/operations.md, "History retention")');
}

const n = (x: number) => Math.round(x).toLocaleString('en-US');

export function summaryText(r: RebuildResult): string {
  return [
    `replayed ${n(r.events)} events in ${n(r.messages)} messages (${n(r.malformed)} malformed) in ${(r.elapsedMs / 1000).toFixed(1)} s`,
    `rate: ${n(r.eventsPerSecond)} events/s, ${n(r.messagesPerSecond)} messages/s`,
    `read model generation ${r.generation} (${r.schema}) is live at stream sequence ${n(r.position)}${r.previous ? `; replaced generation ${r.previous.generation}` : ''}`,
  ].join('\n') + '\n';
}

/** A one-line bar redrawn in place on a terminal; a line every two seconds otherwise (logs, CI). */
export class ProgressBar {
  private last = 0;
  private drawn = false;

  constructor(private readonly write: (text: string) => void, private readonly tty: boolean) {}

  update(p: RebuildProgress): void {
    const now = Date.now();
    if (!this.tty && now - this.last < 2000 && p.phase === 'replaying') return;
    this.last = now;
    const line = progressLine(p);
    if (this.tty) {
      this.write(`\r${line}\x1b[K`);
      this.drawn = true;
    } else {
      this.write(`${line}\n`);
    }
  }

  done(): void {
    if (this.tty && this.drawn) this.write('\n');
    this.drawn = false;
  }
}

export function progressLine(p: RebuildProgress): string {
  const fraction = p.target > 0 ? Math.min(1, p.position / p.target) : 1;
  const width = 24;
  const filled = Math.round(fraction * width);
  const rate = p.elapsedMs > 0 ? (p.events / p.elapsedMs) * 1000 : 0;
  const eta = rate > 0 && p.phase === 'replaying' && fraction < 1 ? ` ETA ${Math.ceil(((p.elapsedMs / 1000) * (1 - fraction)) / Math.max(fraction, 1e-9))}s` : '';
  return `replay [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}% ` +
    `seq ${n(p.position)}/${n(p.target)}  ${n(p.events)} events  ${n(rate)} events/s  ${p.phase}${eta}`;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
