import { dumpText } from '#domain';
import type { CommandSpec } from '../command';
import { existingCluster } from './common';

export const dumpCommand: CommandSpec = {
  name: 'dump',
  synopsis: '',
  summary: 'print the epochs and members as ganesha-rados-grace does (the default command)',
  noOperands: true,
  async run(ctx) {
    ctx.stdout(dumpText(await existingCluster(ctx, { records: false }))); // dump prints no client records
  },
};
