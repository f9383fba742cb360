import { summarize } from '#domain';
import type { CommandSpec } from '../command';
import { statusText } from '../status-text';
import { existingCluster } from './common';

export const statusCommand: CommandSpec = {
  name: 'status',
  synopsis: '[--json]',
  summary: 'a readable summary: epochs, members and flags, time in grace, deadline, reclaims, configuration',
  noOperands: true,
  options: [{ name: 'json', value: false, description: 'print the summary as JSON' }],
  async run(ctx, args) {
    const summary = summarize(await existingCluster(ctx));
    ctx.stdout(args.options.has('json') ? JSON.stringify(summary, null, 2) + '\n' : statusText(summary, Date.now()));
  },
};
