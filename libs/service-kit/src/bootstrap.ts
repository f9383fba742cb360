import type { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { ConfigError } from './config';
import { EscapingConsoleLogger } from './log-text';
import { type Dependency, StartingServer, waitForDependencies } from './start-up';
import { installProcessGuards } from './process-guards';

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
  // Log lines carry ids from requests and from the stream: the logger escapes control characters.
  const logger = new EscapingConsoleLogger({ logLevels: options.quiet ? ['error', 'warn'] : undefined });
  const app = await NestFactory.create(module, { logger, abortOnError: false });
  app.enableShutdownHooks();
  const document = SwaggerModule.createDocument(app, new DocumentBuilder()
    .setTitle(options.title)
    .setDescription(options.description)
    .addBearerAuth()
    .build());
  SwaggerModule.setup('docs', app, document);
  await app.listen(options.port, adminHost(options.host));
  return app;
}

/** Loopback unless told otherwise: admin endpoints should not face the NFS clients' network by accident. */
function adminHost(host?: string): string {
  return host ?? process.env.GK_ADMIN_HOST ?? '127.0.0.1';
}

/** The port a started app listens on (for port 0 in tests and `npm start`). */
export function listeningPort(app: INestApplication): number {
  const address = app.getHttpServer().address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** What a service's `main` needs from its configuration. */
export interface ServiceConfig {
  port: number;
  host?: string;
  replica: string;
  quiet?: boolean;
}

export interface ServiceMain<C extends ServiceConfig> {
  /** The program's name, first word of every line it writes. */
  name: string;
  description: string;
  /** Reads the configuration; a `ConfigError` ends the process with exit code 2 and every problem listed. */
  config(env: NodeJS.ProcessEnv): C;
  module(config: C): Type<unknown> | ReturnType<typeof Object>;
  /** What must answer before the app is built (NATS, PostgreSQL): waited for, never a reason to exit. */
  dependencies?(config: C): Dependency[];
}

/**
 * A service's whole `main`: configuration (exit 2 when invalid); its dependencies waited for with
 * back-off while the admin port reports not-ready (StartingServer); the Nest app on that port, one
 * "<name> <replica> listening on port N" line on stdout (scripts wait for it); exit 1 on failure.
 */
export function runService<C extends ServiceConfig>(service: ServiceMain<C>): void {
  installProcessGuards(service.name);
  const start = async () => {
    let config: C;
    try {
      config = service.config(process.env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(`${service.name}: ${err.message}\n`);
      process.exit(2);
    }
    let port = config.port;
    const dependencies = service.dependencies?.(config) ?? [];
    if (dependencies.length) {
      const starting = await StartingServer.listen(config.port, adminHost(config.host));
      port = starting.port; // the same port once ready, also when it was chosen by the system (0)
      await waitForDependencies(dependencies, (waiting, attempt, retryInMs) => {
        starting.report(waiting);
        const what = Object.entries(waiting).map(([name, why]) => `${name} (${why})`).join(', ');
        process.stderr.write(`${service.name}: not ready, waiting for ${what}; attempt ${attempt}, next in ${retryInMs} ms\n`);
      });
      await starting.close();
    }
    const app = await bootstrapService(service.module(config), {
      port,
      host: config.host,
      title: service.name,
      description: service.description,
      quiet: config.quiet,
    });
    process.stdout.write(`${service.name} ${config.replica} listening on port ${listeningPort(app)}\n`);
  };
  start().catch((err: unknown) => {
    process.stderr.write(`${service.name}: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
