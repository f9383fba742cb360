import { dumpText } from '#domain';
import { UsageError } from '../args';
import type { CommandSpec } from '../command';
import { existingCluster } from './common';

export const dumpCommand: CommandSpec = {
  name: 'dump',
  synopsis: '',
  summary: 'print the epochs and members as ganesha-rados-grace does (the default command)',
  async run(ctx, _args, operands) {
    if (operands.length > 0) throw new UsageError(`dump takes no node ids (got ${operands.join(' ')})`);
    ctx.stdout(dumpText(await existingCluster(ctx, { records: false }))); // dump prints no client records
  },
};
