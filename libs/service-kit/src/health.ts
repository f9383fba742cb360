import { Controller, DynamicModule, Get, Inject, Module, Optional } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorResult, HealthIndicatorService, TerminusModule } from '@nestjs/terminus';
import type { OpenedStore } from '#cluster-store';
import { GRACE_STORE, HEALTH_CHECKS } from './tokens';

/** An extra readiness check a service registers (PostgreSQL, its live view, ...). */
export interface ReadinessCheck {
  name: string;
  /** Resolves with details when ready; throws (or rejects) with the reason when not. */
  check(): Promise<Record<string, unknown> | void>;
}

@ApiTags('observability')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(GRACE_STORE) private readonly opened: OpenedStore,
    @Optional() @Inject(HEALTH_CHECKS) private readonly extra: ReadinessCheck[] = [],
  ) {}

  /** Liveness: the process answers. Restarting it would not fix a lost dependency. */
  @Get('live')
  @ApiOkResponse({ description: 'the process is alive' })
  live() {
    return { status: 'ok' };
  }

  /** Readiness: NATS (round trip to the server) and every registered check. */
  @Get()
  @HealthCheck()
  @ApiOkResponse({ description: 'ready' })
  @ApiServiceUnavailableResponse({ description: 'a dependency is down' })
  ready() {
    return this.health.check([
      () => this.nats(),
      ...(this.extra ?? []).map((c) => () => this.run(c)),
    ]);
  }

  private async nats(): Promise<HealthIndicatorResult> {
    const session = this.indicators.check('nats');
    const { nc } = this.opened;
    if (nc.isClosed()) return session.down({ message: 'connection closed' });
    try {
      const rttMs = await withTimeout(nc.rtt(), 2000, 'no answer from NATS within 2 s');
      return session.up({ server: nc.getServer(), rttMs: Number(rttMs.toFixed(3)) });
    } catch (err) {
      return session.down({ message: (err as Error).message });
    }
  }

  private async run(c: ReadinessCheck): Promise<HealthIndicatorResult> {
    const session = this.indicators.check(c.name);
    try {
      return session.up((await withTimeout(c.check(), 3000, `${c.name} did not answer within 3 s`)) ?? {});
    } catch (err) {
      return session.down({ message: (err as Error).message });
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); })]).finally(() => clearTimeout(timer));
}

@Module({})
export class HealthModule {
  /** `checks`: a provider of ReadinessCheck[] under HEALTH_CHECKS, e.g. from the service's module. */
  static forRoot(options: { imports?: DynamicModule['imports']; checks?: DynamicModule['providers'] } = {}): DynamicModule {
    return {
      module: HealthModule,
      imports: [TerminusModule, ...(options.imports ?? [])],
      controllers: [HealthController],
      providers: options.checks ?? [],
    };
  }
}
