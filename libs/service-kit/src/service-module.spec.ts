import { Global, Module, type OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { closeBeforeShutdown } from './service-module';

const order: string[] = [];

/** A core built by a static start, as the services' are (so its constructor is private). */
class Core {
  private constructor() {}
  static start(): Core {
    return new Core();
  }
  async close(): Promise<void> {
    order.push('core closed');
  }
}

/** Stands for the store connection, which is drained on shutdown. */
class Connection implements OnApplicationShutdown {
  onApplicationShutdown(): void {
    order.push('connection drained');
  }
}

@Global()
@Module({ providers: [{ provide: Core, useFactory: () => Core.start() }, Connection, closeBeforeShutdown(Core)] })
class AppModule {}

describe('closeBeforeShutdown', () => {
  it('closes the core before the connections are drained', async () => {
    const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
    await app.close();
    expect(order).toEqual(['core closed', 'connection drained']);
  });
});
