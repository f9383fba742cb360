import { jetstreamManager } from '@nats-io/jetstream';
import { clustersCovered, historyStart, historyText as historyLine, retentionRefusal, setRetention } from '#cluster-store';
import { UsageError } from '../args';
import { Failure, type CommandContext, type CommandSpec } from '../command';

/**
 * `gracectl retention` shows the history retention of the event stream and where this cluster's
 * history starts; `retention keep N --audit-model-covers` keeps only the last N decisions of each
 * cluster, refused unless snapshots cover what it drops (libs/cluster-store/src/retention.ts);
 * `retention off` keeps everything again (what is already dropped stays dropped).
 */
export const retentionCommand: CommandSpec = {
  name: 'retention',
  synopsis: '[keep N --audit-model-covers | off]',
  summary: 'show or set how much history the event stream keeps (default: everything)',
  options: [{ name: 'audit-model-covers', value: false, description: 'retention: the PostgreSQL audit model holds the audits of what is dropped' }],
  async run(ctx, args, operands) {
    const opened = await ctx.opened();
    const jsm = await jetstreamManager(opened.nc);
    if (operands.length === 0) return show(ctx, jsm);
    if (operands[0] === 'off' && operands.length === 1) {
      await setRetention(jsm, ctx.names, -1);
      ctx.stdout('retention off: the event stream keeps every decision from now on\n');
      return;
    }
    if (operands[0] !== 'keep' || operands.length !== 2) throw new UsageError('retention takes no operand, `keep N` or `off`');
    const keep = Number(operands[1]);
    if (!Number.isSafeInteger(keep) || keep < 1) throw new UsageError(`keep wants a positive whole number of decisions, got ${JSON.stringify(operands[1])}`);
    const clusters = await clustersCovered(jsm, opened.store, ctx.names, opened.snapshots);
    const refusal = retentionRefusal({ keep, auditModelCovers: args.options.has('audit-model-covers') }, clusters, opened.snapshots !== undefined);
    if (refusal) throw new Failure(`retention not set: ${refusal}`);
    await setRetention(jsm, ctx.names, keep);
    ctx.stdout(`retention set: the event stream keeps the last ${keep} decisions of each cluster (${clusters.length} cluster(s), each with a trusted snapshot)\n`);
  },
};

async function show(ctx: CommandContext, jsm: Awaited<ReturnType<typeof jetstreamManager>>): Promise<void> {
  ctx.stdout(await historyText(ctx, jsm) + '\n');
}

/** One line: the retention in force and where this cluster's history starts (also printed by `audit`). */
export async function historyText(ctx: CommandContext, jsm: Awaited<ReturnType<typeof jetstreamManager>>): Promise<string> {
  return historyLine(await historyStart(jsm, ctx.names, ctx.cluster), ctx.cluster);
}
