/**
 * client-registry: projects the event stream into PostgreSQL (the stable client store and the
 * audit read model), emits ClientRecordsInvalidated when a grace period ends, answers record
 * queries over NATS and REST, and rebuilds its read model on demand.
 */
import 'reflect-metadata';
import { connectClient } from '#projection';
import { natsDependency, runService } from '#service-kit';
import { registryConfig } from './config';
import { RegistryAppModule } from './registry.module';

runService({
  name: 'client-registry',
  description: 'The stable client store of Gracekeeper (a PostgreSQL projection of the events): client records per epoch, grace periods, audits, replay. Every answer says which stream sequence it reflects. Replays need "Authorization: Bearer <GK_ADMIN_TOKEN>".',
  config: registryConfig,
  module: (config) => RegistryAppModule.forRoot(config),
  dependencies: (config) => [natsDependency(config.natsUrl), {
    name: 'postgres',
    async check() {
      const client = await connectClient(config.databaseUrl, `gk-client-registry:${config.replica}:start`.slice(0, 63));
      await client.end();
    },
  }],
});
