import { type OnModuleDestroy, type Provider } from '@nestjs/common';
import { streamNames } from '#contracts';
import type { OpenedStore } from '#cluster-store';
import { GRACE_STORE } from '#service-kit';
import type { CoordinatorConfig } from '../config';
import { ConsoleHub } from './console-hub';
import { RegistryQueries } from './registry-queries';

export { ConsoleController } from './console.controller';
export { ConsoleHub } from './console-hub';
export { RegistryQueries } from './registry-queries';

/** The console's hub (fed by the coordinator's live views, closed with the app) and its registry client. */
export function CONSOLE_PROVIDERS(config: CoordinatorConfig): Provider[] {
  return [
    {
      provide: ConsoleHub,
      useFactory: () => Object.assign(new ConsoleHub(), { onModuleDestroy(this: ConsoleHub) { this.close(); } }) satisfies OnModuleDestroy,
    },
    {
      provide: RegistryQueries,
      inject: [GRACE_STORE],
      useFactory: (opened: OpenedStore) => new RegistryQueries(opened.nc, streamNames(config.prefix), config.readToken),
    },
  ];
}
