import { DynamicModule, Global, Logger, Module } from '@nestjs/common';
import { streamNames } from '#contracts';
import type { OpenedStore } from '#cluster-store';
import { closeBeforeShutdown, GRACE_STORE, HEALTH_CHECKS, MetricsModule, MetricsRegistry, ReadinessCheck, serviceModule } from '#service-kit';
import { ClustersController } from './clusters.controller';
import type { CoordinatorConfig } from './config';
import { CoordinatorMetrics } from './coordinator-metrics';
import { GraceCoordinator } from './coordinator';
import { CONSOLE_PROVIDERS, ConsoleController, ConsoleHub, RegistryQueries } from './console';

export const COORDINATOR_CONFIG = Symbol('COORDINATOR_CONFIG');

/** The coordinator core as a Nest provider (global, so health checks and controllers can use it). */
@Global()
@Module({})
class CoordinatorCoreModule {
  static forRoot(config: CoordinatorConfig): DynamicModule {
    return {
      module: CoordinatorCoreModule,
      imports: [MetricsModule],
      providers: [
        { provide: COORDINATOR_CONFIG, useValue: config },
        {
          provide: GraceCoordinator,
          inject: [GRACE_STORE, MetricsRegistry, ConsoleHub],
          useFactory: async (opened: OpenedStore, registry: MetricsRegistry, consoleHub: ConsoleHub) => {
            const log = new Logger('grace-coordinator');
            const metrics = new CoordinatorMetrics(registry);
            let started: GraceCoordinator | undefined;
            const coordinator = await GraceCoordinator.start({
              nc: opened.nc,
              store: opened.store,
              names: streamNames(config.prefix),
              clusters: config.clusters,
              adminToken: config.adminToken,
              readToken: config.readToken,
              observer: metrics,
              cluster: {
                replica: config.replica,
                snapshots: opened.snapshots,
                observer: {
                  applied: (cluster, events, state) => {
                    metrics.applied(cluster, events);
                    consoleHub.applied(cluster, events, state, started?.clusters.get(cluster)?.version);
                    for (const e of events) {
                      if (e.type === 'GraceStarted' || e.type === 'GraceEnded') {
                        log.log(`${cluster}: ${e.type} (epoch ${state.epoch}, recovery epoch ${state.recoveryEpoch}, by ${e.actor}${e.type === 'GraceEnded' ? `, ${e.reason}` : ''})`);
                      }
                      if (e.type === 'MemberSilent') log.warn(`${cluster}: identity ${e.node}: host ${e.host} silent for ${e.silentForMs} ms; policy ${e.policy}${e.policyRefused ? ` refused: ${e.policyRefused}` : ''}`);
                      if (e.type === 'MemberHeard') log.log(`${cluster}: identity ${e.node}: host ${e.host} heard again`);
                    }
                  },
                  deadline: (cluster, outcome, deadline) => {
                    metrics.deadline(cluster, outcome);
                    log.log(`${cluster}: deadline ${new Date(deadline).toISOString()} reached: ${outcome}`);
                  },
                  problem: (cluster, message) => log.warn(`${cluster}: ${message}`),
                },
              },
            });
            started = coordinator;
            metrics.attach(coordinator);
            log.log(`replica ${config.replica} serving ${config.clusters.join(', ')} (prefix ${config.prefix})`);
            return coordinator;
          },
        },
        closeBeforeShutdown(GraceCoordinator),
        ...CONSOLE_PROVIDERS(config),
      ],
      exports: [GraceCoordinator, COORDINATOR_CONFIG, ConsoleHub, RegistryQueries],
    };
  }
}

const clustersReady = {
  provide: HEALTH_CHECKS,
  inject: [GraceCoordinator],
  useFactory: (coordinator: GraceCoordinator): ReadinessCheck[] => [{
    name: 'clusters',
    async check() {
      const details: Record<string, unknown> = {};
      for (const [cluster, c] of coordinator.clusters) {
        if (!c.ready) throw new Error(`the live view of cluster ${cluster} is reconnecting`);
        details[cluster] = { version: c.version, epoch: c.state?.epoch, recoveryEpoch: c.state?.recoveryEpoch, nextDeadlineCheckInMs: c.timer.nextAttemptInMs };
      }
      return details;
    },
  }],
};

/** The grace-coordinator service: the core, REST admin, health and metrics. */
@Module({})
export class CoordinatorAppModule {
  static forRoot(config: CoordinatorConfig): DynamicModule {
    return serviceModule({
      module: CoordinatorAppModule,
      name: 'grace-coordinator',
      config,
      core: CoordinatorCoreModule.forRoot(config),
      readiness: clustersReady,
      controllers: [ClustersController, ConsoleController],
    });
  }
}
