import type { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

export interface BootstrapOptions {
  port: number;
  host?: string;
  title: string;
  description: string;
  /** Silence Nest's own start-up logging (tests). */
  quiet?: boolean;
}

/** Creates the service's Nest app with OpenAPI at /docs and shutdown hooks, and starts listening. */
export async function bootstrapService(module: Type<unknown> | ReturnType<typeof Object>, options: BootstrapOptions): Promise<INestApplication> {
  const app = await NestFactory.create(module, { logger: options.quiet ? ['error', 'warn'] : undefined, abortOnError: false });
  app.enableShutdownHooks();
  const document = SwaggerModule.createDocument(app, new DocumentBuilder()
    .setTitle(options.title)
    .setDescription(options.description)
    .addBearerAuth()
    .build());
  SwaggerModule.setup('docs', app, document);
  // Loopback unless told otherwise: admin endpoints should not face the NFS clients' network by accident.
  await app.listen(options.port, options.host ?? process.env.GK_ADMIN_HOST ?? '127.0.0.1');
  return app;
}

/** The port a started app listens on (for port 0 in tests and `npm start`). */
export function listeningPort(app: INestApplication): number {
  const address = app.getHttpServer().address();
  return typeof address === 'object' && address ? address.port : 0;
}
