import { DynamicModule, Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import type { StreamNames } from '#contracts';
import { openGraceStore, OpenedStore } from '#cluster-store';
import { GRACE_STORE } from './tokens';

export interface GraceStoreOptions {
  natsUrl: string;
  names: StreamNames;
  /** Connection name shown by the NATS server (service and replica). */
  name: string;
}

/** Provides the one connection and event store of a service, closed on shutdown. */
@Global()
@Module({})
export class GraceStoreModule implements OnApplicationShutdown {
  constructor(@Inject(GRACE_STORE) private readonly opened: OpenedStore) {}

  static forRoot(options: GraceStoreOptions): DynamicModule {
    return {
      module: GraceStoreModule,
      providers: [{
        provide: GRACE_STORE,
        useFactory: async () => {
          const snapshotLog = new Logger('snapshots');
          const opened = await openGraceStore({ onSnapshotProblem: (message) => snapshotLog.warn(message), ...options });
          // How NATS is secured, development mode, a weak stream: said once, at start.
          const log = new Logger('nats');
          for (const note of opened.startupNotes) (note.level === 'warn' ? log.warn(note.text) : log.log(note.text));
          return opened;
        },
      }],
      exports: [GRACE_STORE],
    };
  }

  /** For a process that opened its store itself (tests, the agent's core). */
  static forStore(opened: OpenedStore): DynamicModule {
    return { module: GraceStoreModule, providers: [{ provide: GRACE_STORE, useValue: opened }], exports: [GRACE_STORE] };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.opened.close();
  }
}
