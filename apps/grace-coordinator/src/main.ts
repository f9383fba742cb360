/**
 * grace-coordinator: owns the clock of each served cluster (ends grace periods at their
 * deadline), and serves the gracectl operations over NATS request/reply and REST admin.
 */
import 'reflect-metadata';
import { natsDependency, runService } from '#service-kit';
import { coordinatorConfig } from './config';
import { CoordinatorAppModule } from './coordinator.module';

runService({
  name: 'grace-coordinator',
  description: 'Cluster grace state of Gracekeeper: the gracectl operations, deadlines, health and metrics. Changes need "Authorization: Bearer <GK_ADMIN_TOKEN>".',
  config: coordinatorConfig,
  module: (config) => CoordinatorAppModule.forRoot(config),
  dependencies: (config) => [natsDependency(config.natsUrl)],
});
