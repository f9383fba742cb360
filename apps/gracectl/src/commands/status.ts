import { summarize } from '#domain';
import { UsageError } from '../args';
import type { CommandSpec } from '../command';
import { statusText } from '../status-text';
import { existingCluster } from './common';

export const statusCommand: CommandSpec = {
  name: 'status',
  synopsis: '[--json]',
  summary: 'a readable summary: epochs, members and flags, time in grace, deadline, reclaims, configuration',
  options: [{ name: 'json', value: false, description: 'print the summary as JSON' }],
  async run(ctx, args, operands) {
    if (operands.length > 0) throw new UsageError(`status takes no node ids (got ${operands.join(' ')})`);
    const summary = summarize(await existingCluster(ctx));
    ctx.stdout(args.options.has('json') ? JSON.stringify(summary, null, 2) + '\n' : statusText(summary, Date.now()));
  },
};
