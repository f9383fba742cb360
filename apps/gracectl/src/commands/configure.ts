import type { GraceConfig } from '#contracts';
import { choiceOption, OptionSpec, ParsedArgs, secondsOption, UsageError } from '../args';
import type { CommandSpec } from '../command';
import { execute } from './common';

export const CONFIG_OPTIONS: OptionSpec[] = [
  { name: 'grace-time', value: true, valueName: 'S', description: 'grace period length in seconds (deadline: at most twice this)' },
  { name: 'lease-time', value: true, valueName: 'S', description: 'NFSv4 lease time in seconds (each reclaim pushes the deadline this far)' },
  { name: 'deadline-policy', value: true, valueName: 'abandon|wait', description: 'at the deadline, abandon members still needing grace, or wait for them' },
  { name: 'exit-policy', value: true, valueName: 'all-clear|first-exit', description: 'no grants before grace ends, or the first finished node may end it' },
];

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
  synopsis: '[--grace-time S] [--lease-time S] [--deadline-policy abandon|wait] [--exit-policy all-clear|first-exit]',
  summary: 'change the cluster\'s grace configuration (recorded as a ClusterConfigured event)',
  noOperands: true,
  options: CONFIG_OPTIONS,
  async run(ctx, args) {
    const config = configFromOptions(args.options);
    if (Object.keys(config).length === 0) throw new UsageError('configure needs at least one of --grace-time, --lease-time, --deadline-policy, --exit-policy');
    await execute(ctx, { type: 'configure', config });
  },
};
