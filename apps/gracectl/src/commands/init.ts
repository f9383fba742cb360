import { UsageError } from '../args';
import type { CommandSpec } from '../command';

/**
 * Creates the event stream, or brings an existing one to the fail-closed settings (no limits,
 * deny delete, deny purge). Services never create it by themselves (docs/security.md), so this is
 * the explicit first step of a deployment, run once with an operator identity.
 */
export const initCommand: CommandSpec = {
  name: 'init',
  synopsis: '',
  summary: 'create the event stream (or fix its settings); replicas from $GK_STREAM_REPLICAS',
  createsStream: true,
  async run(ctx, _args, operands) {
    if (operands.length > 0) throw new UsageError(`init takes no node ids (got ${operands.join(' ')})`);
    await ctx.opened();
  },
};
