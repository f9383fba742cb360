/**
 * client-registry: projects the event stream into PostgreSQL (the stable client store and the
 * audit read model), emits ClientRecordsInvalidated when a grace period ends, answers record
 * queries over NATS and REST, and rebuilds its read model on demand.
 */
import 'reflect-metadata';
import { bootstrapService, ConfigError, listeningPort } from '#service-kit';
import { registryConfig } from './config';
import { RegistryAppModule } from './registry.module';

async function main(): Promise<void> {
  let config;
  try {
    config = registryConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`client-registry: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const app = await bootstrapService(RegistryAppModule.forRoot(config), {
    port: config.port,
    host: config.host,
    title: 'client-registry',
    description: 'The stable client store of Gracekeeper (a PostgreSQL projection of the events): client records per epoch, grace periods, audits, replay. Every answer says which stream sequence it reflects. Replays need "Authorization: Bearer <GK_ADMIN_TOKEN>".',
    quiet: config.quiet,
  });
  process.stdout.write(`client-registry ${config.replica} listening on port ${listeningPort(app)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`client-registry: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
