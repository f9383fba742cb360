import { type BeforeApplicationShutdown, type DynamicModule, Inject, Injectable, type Provider, type Type } from '@nestjs/common';
import { streamNames } from '#contracts';
import { GraceStoreModule } from './grace-store.module';
import { HealthModule } from './health';
import { MetricsModule } from './metrics';
import { ADMIN_TOKEN, READ_TOKEN } from './tokens';

/** A service's core that must stop (its projector, views, NATS endpoints) before its store's connection is drained. */
export interface Closable {
  close(): Promise<void>;
}

/** A provider that closes the `core` instance first when the app shuts down (`core`: its class, the injection token). */
// `Function`, not `Type`: the cores are classes with private constructors (built by a static `start`).
export function closeBeforeShutdown(core: Function & { prototype: Closable }): Type<BeforeApplicationShutdown> {
  @Injectable()
  class CloseBeforeShutdown implements BeforeApplicationShutdown {
    constructor(@Inject(core) private readonly instance: Closable) {}
    async beforeApplicationShutdown(): Promise<void> {
      await this.instance.close();
    }
  }
  return CloseBeforeShutdown;
}

export interface ServiceModuleOptions {
  /** The app module class this builds (`forRoot`'s own class). */
  module: Type<unknown>;
  /** The service's name, part of its NATS connection name. */
  name: string;
  config: { natsUrl: string; prefix: string; replica: string; adminToken?: string; readToken?: string };
  /** The service's core as a global module (see `closeBeforeShutdown`). */
  core: DynamicModule;
  /** The HEALTH_CHECKS provider of its readiness. */
  readiness: Provider;
  controllers: Type<unknown>[];
}

/** A service's app module: its store connection, metrics, its core, health with its readiness, REST and its tokens. */
export function serviceModule(options: ServiceModuleOptions): DynamicModule {
  const { config } = options;
  return {
    module: options.module,
    imports: [
      GraceStoreModule.forRoot({ natsUrl: config.natsUrl, names: streamNames(config.prefix), name: `${options.name}:${config.replica}` }),
      MetricsModule,
      options.core,
      HealthModule.forRoot({ checks: [options.readiness] }),
    ],
    controllers: options.controllers,
    providers: [{ provide: ADMIN_TOKEN, useValue: config.adminToken }, { provide: READ_TOKEN, useValue: config.readToken }],
  };
}
