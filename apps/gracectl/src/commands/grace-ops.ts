import type { AdminCommand } from '#domain';
import type { CommandSpec } from '../command';
import { configFromOptions, CONFIG_OPTIONS } from './configure';
import { UsageError } from '../args';
import { execute, nodeIds } from './common';

type NodeOp = 'start' | 'join' | 'lift' | 'remove' | 'enforce' | 'noenforce' | 'member';

/** The ganesha-rados-grace operations on node ids (SPEC §2); silent on success. */
function nodeOp(name: NodeOp, summary: string): CommandSpec {
  return {
    name,
    synopsis: 'nodeid...',
    summary,
    async run(ctx, _args, operands) {
      const nodes = nodeIds(operands);
      await execute(ctx, { type: name, nodes } as AdminCommand);
    },
  };
}

export const addCommand: CommandSpec = {
  name: 'add',
  synopsis: '[config options] nodeid...',
  summary: 'add members (enforcing); creates the cluster, with the given configuration, if it does not exist (and the event stream)',
  createsStream: true,
  options: CONFIG_OPTIONS,
  async run(ctx, args, operands) {
    const nodes = nodeIds(operands);
    const config = configFromOptions(args.options);
    await execute(ctx, { type: 'add', nodes, config });
    // On an existing cluster `add` leaves the configuration alone; flags given say what the
    // operator wants, so apply them as a separate (no-op when equal) configure decision.
    if (Object.keys(config).length > 0) await execute(ctx, { type: 'configure', config });
  },
};

export const nodeCommands: CommandSpec[] = [
  nodeOp('start', 'start a grace period (or join the one in force): the nodes need grace and enforce'),
  nodeOp('join', 'join the grace period in force; nothing when none is'),
  nodeOp('lift', 'the nodes are done recovering; the last lift ends grace (only once every member enforces)'),
  nodeOp('remove', 'remove members; ends grace when no remaining member needs it'),
  nodeOp('enforce', 'the nodes refuse non-reclaim state'),
  nodeOp('noenforce', 'the nodes may grant non-reclaim state (refused during grace)'),
  nodeOp('member', 'succeeds only if every node is a member'),
];

/** Failover and failback: the identity's clients reclaim through `host` from now on. */
export const moveCommand: CommandSpec = {
  name: 'move',
  synopsis: 'identity host',
  summary: 'serve an identity from another host (failover, failback): it enters recovery as on a restart; its old host is fenced',
  async run(ctx, _args, operands) {
    if (operands.length !== 2) throw new UsageError(`move takes an identity and a host (got ${operands.length} operand${operands.length === 1 ? '' : 's'})`);
    const [identity, host] = nodeIds(operands) as [string, string];
    await execute(ctx, { type: 'move', identity, host });
  },
};
