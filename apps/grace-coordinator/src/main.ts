/**
 * grace-coordinator: owns the clock of each served cluster (ends grace periods at their
 * deadline), and serves the gracectl operations over NATS request/reply and REST admin.
 */
import 'reflect-metadata';
import { bootstrapService, ConfigError, listeningPort } from '#service-kit';
import { coordinatorConfig } from './config';
import { CoordinatorAppModule } from './coordinator.module';

async function main(): Promise<void> {
  let config;
  try {
    config = coordinatorConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`grace-coordinator: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const app = await bootstrapService(CoordinatorAppModule.forRoot(config), {
    port: config.port,
    host: config.host,
    title: 'grace-coordinator',
    description: 'Cluster grace state of Gracekeeper: the gracectl operations, deadlines, health and metrics. Changes need "Authorization: Bearer <GK_ADMIN_TOKEN>".',
    quiet: config.quiet,
  });
  process.stdout.write(`grace-coordinator ${config.replica} listening on port ${listeningPort(app)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`grace-coordinator: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
