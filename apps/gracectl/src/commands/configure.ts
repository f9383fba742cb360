import { type GraceConfig, type GraceConfigChange, type LivenessPolicy, NodeIdSchema } from '#contracts';
import { choiceOption, OptionSpec, ParsedArgs, secondsOption, UsageError } from '../args';
import type { CommandSpec } from '../command';
import { execute } from './common';

export const CONFIG_OPTIONS: OptionSpec[] = [
  { name: 'grace-time', value: true, valueName: 'S', description: 'grace period length in seconds (deadline: at most twice this)' },
  { name: 'lease-time', value: true, valueName: 'S', description: 'NFSv4 lease time in seconds (each reclaim pushes the deadline this far)' },
  { name: 'deadline-policy', value: true, valueName: 'abandon|wait', description: 'at the deadline, abandon members still needing grace, or wait for them' },
  { name: 'exit-policy', value: true, valueName: 'all-clear|first-exit', description: 'no grants before grace ends, or the first finished node may end it' },
];

/** Dead-host detection (configure only: `add` creates a cluster without it). */
export const LIVENESS_OPTIONS: OptionSpec[] = [
  { name: 'dead-after', value: true, valueName: 'S|off', description: 'report an identity silent when its host sent no heartbeat for S seconds; off: no detection' },
  { name: 'liveness-policy', value: true, valueName: 'wait|start-grace|move', description: 'then: report only, start grace for it at once, or move it to the standby host' },
  { name: 'standby', value: true, valueName: 'HOST', description: 'the member host that policy move moves a silent identity to' },
];

/** The liveness part of a configure change: merged into the one in force, or null (off). */
export function livenessFromOptions(options: ParsedArgs['options']): GraceConfigChange['liveness'] {
  if (options.get('dead-after') === 'off') {
    if (options.has('liveness-policy') || options.has('standby')) throw new UsageError('--dead-after off turns detection off: give no --liveness-policy or --standby with it');
    return null;
  }
  const deadAfterMs = secondsOption(options, 'dead-after');
  const policy = choiceOption<LivenessPolicy>(options, 'liveness-policy', ['wait', 'start-grace', 'move']);
  const standby = options.get('standby');
  if (standby !== undefined && (typeof standby !== 'string' || !NodeIdSchema.safeParse(standby).success)) throw new UsageError(`--standby wants a node id, got ${JSON.stringify(standby)}`);
  const liveness = { ...(deadAfterMs !== undefined ? { deadAfterMs } : {}), ...(policy ? { policy } : {}), ...(standby !== undefined ? { standby } : {}) };
  return Object.keys(liveness).length ? liveness : undefined;
}

export function configFromOptions(options: ParsedArgs['options']): Partial<GraceConfig> {
  const config: Partial<GraceConfig> = {};
  const graceTimeMs = secondsOption(options, 'grace-time');
  const leaseTimeMs = secondsOption(options, 'lease-time');
  const deadlinePolicy = choiceOption(options, 'deadline-policy', ['abandon', 'wait'] as const);
  const exitPolicy = choiceOption(options, 'exit-policy', ['all-clear', 'first-exit'] as const);
  if (graceTimeMs !== undefined) config.graceTimeMs = graceTimeMs;
  if (leaseTimeMs !== undefined) config.leaseTimeMs = leaseTimeMs;
  if (deadlinePolicy) config.deadlinePolicy = deadlinePolicy;
  if (exitPolicy) config.exitPolicy = exitPolicy;
  return config;
}

export const configureCommand: CommandSpec = {
  name: 'configure',
  synopsis: '[--grace-time S] [--lease-time S] [--deadline-policy abandon|wait] [--exit-policy all-clear|first-exit] [--dead-after S|off] [--liveness-policy wait|start-grace|move] [--standby HOST]',
  summary: 'change the cluster\'s grace and liveness configuration (recorded as a ClusterConfigured event)',
  noOperands: true,
  options: [...CONFIG_OPTIONS, ...LIVENESS_OPTIONS],
  async run(ctx, args) {
    const liveness = livenessFromOptions(args.options);
    const config: GraceConfigChange = { ...configFromOptions(args.options), ...(liveness !== undefined ? { liveness } : {}) };
    if (Object.keys(config).length === 0) throw new UsageError('configure needs at least one of --grace-time, --lease-time, --deadline-policy, --exit-policy, --dead-after, --liveness-policy, --standby');
    await execute(ctx, { type: 'configure', config });
  },
};
