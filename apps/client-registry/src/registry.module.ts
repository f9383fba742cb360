import { DynamicModule, Global, Logger, Module } from '@nestjs/common';
import { streamNames } from '#contracts';
import type { OpenedStore } from '#cluster-store';
import { closeBeforeShutdown, GRACE_STORE, HEALTH_CHECKS, MetricsModule, MetricsRegistry, type ReadinessCheck, serviceModule } from '#service-kit';
import type { RegistryConfig } from './config';
import { ClientRegistry } from './registry';
import { RegistryController } from './registry.controller';
import { registryMetrics } from './registry-metrics';

@Global()
@Module({})
class RegistryCoreModule {
  static forRoot(config: RegistryConfig): DynamicModule {
    return {
      module: RegistryCoreModule,
      imports: [MetricsModule],
      providers: [
        {
          provide: ClientRegistry,
          inject: [GRACE_STORE, MetricsRegistry],
          useFactory: async (opened: OpenedStore, metrics: MetricsRegistry) => {
            const log = new Logger('client-registry');
            const registry = await ClientRegistry.start({
              databaseUrl: config.databaseUrl,
              natsUrl: config.natsUrl,
              nc: opened.nc,
              store: opened.store,
              names: streamNames(config.prefix),
              replica: config.replica,
              readToken: config.readToken,
              adminToken: config.adminToken,
              projector: { maxBatchEvents: config.batchEvents, lockPollMs: config.lockPollMs },
              log: (level, message) => (level === 'error' ? log.error(message) : level === 'warn' ? log.warn(message) : log.log(message)),
            });
            registry.projector.on('role', (role: string) => log.log(`projector role: ${role}`));
            registryMetrics(metrics, registry);
            log.log(`replica ${config.replica} (prefix ${config.prefix})`);
            return registry;
          },
        },
        closeBeforeShutdown(ClientRegistry),
      ],
      exports: [ClientRegistry],
    };
  }
}

/** Readiness: PostgreSQL answers, and this replica is either projecting or standing by. */
const registryReady = {
  provide: HEALTH_CHECKS,
  inject: [ClientRegistry],
  useFactory: (registry: ClientRegistry): ReadinessCheck[] => [
    {
      name: 'postgres',
      async check() {
        await registry.dataSource.query('SELECT 1');
      },
    },
    {
      name: 'projection',
      async check() {
        const { role, checkpoint, lastError } = registry.projector;
        if (role === 'stopped') throw new Error('the projector is stopped');
        return { role, checkpoint, ...(lastError ? { lastError } : {}) };
      },
    },
  ],
};

/** The client-registry service: the core, REST admin, health and metrics. */
@Module({})
export class RegistryAppModule {
  static forRoot(config: RegistryConfig): DynamicModule {
    return serviceModule({
      module: RegistryAppModule,
      name: 'client-registry',
      config,
      core: RegistryCoreModule.forRoot(config),
      readiness: registryReady,
      controllers: [RegistryController],
    });
  }
}
