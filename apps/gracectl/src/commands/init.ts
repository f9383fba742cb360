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
  noOperands: true,
  createsStream: true,
  async run(ctx) {
    await ctx.opened();
  },
};
