import { Controller, Get, Header, Injectable, Module } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { collectDefaultMetrics, Registry } from 'prom-client';

/** One Prometheus registry per service; inject it to add gauges and counters. */
@Injectable()
export class MetricsRegistry extends Registry {
  constructor() {
    super();
    // prom-client's default metrics are already named process_* and nodejs_*: the prefix is only
    // ours (gk_process_cpu_seconds_total, gk_nodejs_heap_size_used_bytes), never doubled.
    collectDefaultMetrics({ register: this, prefix: 'gk_' });
  }
}

@ApiTags('observability')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly registry: MetricsRegistry) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOkResponse({ description: 'Prometheus text exposition' })
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}

@Module({ providers: [MetricsRegistry], controllers: [MetricsController], exports: [MetricsRegistry] })
export class MetricsModule {}
