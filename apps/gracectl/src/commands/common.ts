import { NodeIdSchema } from '#contracts';
import { executeOnce, loadCluster, MEMBERS_ONLY } from '#cluster-store';
import type { AdminCommand, ClusterState, Rejection } from '#domain';
import { UsageError } from '../args';
import { CommandContext, Failure } from '../command';

export const NEED_NODES = 'Need at least one nodeid.';

/**
 * The node ids of a node-taking command. None at all is what ganesha-rados-grace reports as
 * `Need at least one nodeid.` followed by a failure (exit 1); an id that could not be stored
 * (a space, a tab, a slash) is a usage error.
 */
export function nodeIds(operands: string[]): string[] {
  if (operands.length === 0) throw new Failure('need at least one nodeid', NEED_NODES);
  for (const node of operands) {
    if (!NodeIdSchema.safeParse(node).success) throw new UsageError(`invalid node id ${JSON.stringify(node)}: use 1-128 letters, digits and _ . : -`);
  }
  return operands;
}

export function failureOf(ctx: CommandContext, rejection: Rejection): Failure {
  switch (rejection.code) {
    case 'NO_CLUSTER':
      return new Failure(`cluster ${ctx.cluster} does not exist (create it with: gracectl add nodeid...)`);
    case 'NO_NODES':
      return new Failure('need at least one nodeid', NEED_NODES);
    default:
      return new Failure(rejection.message);
  }
}

/** Runs one admin command with optimistic concurrency (load, decide, append, retry on conflict). */
export async function execute(ctx: CommandContext, command: AdminCommand): Promise<void> {
  const opened = await ctx.opened();
  const result = await executeOnce(opened.store, ctx.names, ctx.cluster, command, { actor: ctx.actor, causation: ctx.causation }, { snapshots: opened.snapshots });
  if (!result.ok) throw failureOf(ctx, result.rejection);
}

/**
 * The cluster's current state; a cluster without events does not exist and is a failure. With
 * `records: false`, no node's client records are loaded (members, epochs and grace are the same).
 */
export async function existingCluster(ctx: CommandContext, options: { records?: boolean } = {}): Promise<ClusterState> {
  const opened = await ctx.opened();
  const trackedNodes = options.records === false ? [...MEMBERS_ONLY] : undefined;
  const { state, malformed } = await loadCluster(opened.store, ctx.names, ctx.cluster, { snapshots: opened.snapshots, trackedNodes });
  for (const m of malformed) ctx.stderr(`warning: skipped malformed event message at sequence ${m.sequence}: ${m.error.message}\n`);
  if (!state.exists) throw failureOf(ctx, { code: 'NO_CLUSTER', message: '' });
  return state;
}
