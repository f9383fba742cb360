import type { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { ConfigError, type LoadConfigOptions } from './config';
import { handleStopSignals } from './lifecycle';
import { createServiceLogger, type Logger, logSettings } from './logger';
import { NestLogger } from './nest-logger';
import { type Dependency, StartingServer, waitForDependencies } from './start-up';
import { installProcessGuards } from './process-guards';

export interface BootstrapOptions {
  port: number;
  host?: string;
  title: string;
  description: string;
  /** Only warnings and errors from Nest and our Nest loggers (tests, the agent's admin app). */
  quiet?: boolean;
  /** The service's logger (runService's); default a new one named after `title`. */
  logger?: Logger;
}

/** Creates the service's Nest app with OpenAPI at /docs, logging through the service's logger, and starts listening. */
export async function bootstrapService(module: Type<unknown> | ReturnType<typeof Object>, options: BootstrapOptions): Promise<INestApplication> {
  const root = options.logger ?? createServiceLogger(options.title);
  const logger = options.quiet && root.levelVal < root.levels.values.warn! ? root.child({}, { level: 'warn' }) : root;
  const app = await NestFactory.create(module, { logger: new NestLogger(logger), abortOnError: false });
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
  /** The program's name: the `service` of every log record. */
  name: string;
  description: string;
  /** Reads the configuration; a `ConfigError` ends the process with exit code 2 and every problem listed. */
  config(env: NodeJS.ProcessEnv, options: LoadConfigOptions): C;
  module(config: C): Type<unknown> | ReturnType<typeof Object>;
  /** What must answer before the app is built (NATS, PostgreSQL): waited for, never a reason to exit. */
  dependencies?(config: C): Dependency[];
}

/**
 * A service's whole `main`: its logger (GK_LOG_FORMAT, GK_LOG_LEVEL; exit 2 when invalid); stop
 * signals and process guards, so that every stop is logged with its cause (lifecycle.ts);
 * configuration (exit 2 when invalid); its dependencies waited for with back-off while the admin
 * port reports not-ready (StartingServer); the Nest app on that port, and one record
 * "<name> <replica> listening on port N" (scripts wait for it); exit 1 on failure.
 */
export function runService<C extends ServiceConfig>(service: ServiceMain<C>): void {
  try {
    logSettings();
  } catch (err) {
    process.stderr.write(`${service.name}: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = createServiceLogger(service.name);
  installProcessGuards(logger);
  let starting: StartingServer | undefined;
  let app: INestApplication | undefined;
  handleStopSignals(logger, async () => {
    await starting?.close();
    await app?.close();
  });
  const start = async () => {
    let config: C;
    try {
      config = service.config(process.env, { warn: (message) => logger.warn(message) });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      // For the operator who just ran it, as plain text on stderr; the exit record follows in the log.
      process.stderr.write(`${service.name}: ${err.message}\n`);
      process.exit(2);
    }
    let port = config.port;
    const dependencies = service.dependencies?.(config) ?? [];
    if (dependencies.length) {
      starting = await StartingServer.listen(config.port, adminHost(config.host));
      port = starting.port; // the same port once ready, also when it was chosen by the system (0)
      await waitForDependencies(dependencies, (waiting, attempt, retryInMs) => {
        starting!.report(waiting);
        const what = Object.entries(waiting).map(([name, why]) => `${name} (${why})`).join(', ');
        logger.warn({ waiting, attempt, retryInMs }, `not ready, waiting for ${what}; attempt ${attempt}, next in ${retryInMs} ms`);
      });
      await starting.close();
      starting = undefined;
    }
    app = await bootstrapService(service.module(config), {
      port,
      host: config.host,
      title: service.name,
      description: service.description,
      quiet: config.quiet,
      logger,
    });
    const listening = listeningPort(app);
    logger.info({ replica: config.replica, port: listening }, `${service.name} ${config.replica} listening on port ${listening}`);
  };
  start().catch((err: unknown) => {
    logger.error({ err }, `start-up failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
