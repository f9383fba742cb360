import { Body, Controller, DynamicModule, Get, HttpCode, Inject, Injectable, Module, OnModuleInit, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Counter, Gauge } from 'prom-client';
import { z } from 'zod';
import { ADMIN_TOKEN, AdminTokenGuard, READ_TOKEN, ReadTokenGuard, GraceStoreModule, HealthModule, HEALTH_CHECKS, MetricsModule, MetricsRegistry, type ReadinessCheck, ZodBodyPipe } from '#service-kit';
import type { AgentCore } from '../core/agent-core';

const AGENT = Symbol('AGENT');

export const GraceDoneBody = z.object({ wait: z.boolean().optional() }).strict();

@ApiTags('node-agent')
@ApiBearerAuth()
@UseGuards(ReadTokenGuard)
@Controller()
class AgentAdminController {
  constructor(@Inject(AGENT) private readonly core: AgentCore) {}

  @Get('status')
  @ApiOkResponse({ description: "the agent's view: grace state, members, this node's records, counters" })
  status() {
    return this.core.service.status();
  }

  /** Same as the JSON op `grace_start` (an NFS server restart), for operators. */
  @Post('grace/start')
  @HttpCode(200)
  @UseGuards(AdminTokenGuard)
  @ApiBearerAuth()
  graceStart() {
    return this.core.service.handle({ op: 'grace_start' }, 'rest');
  }

  /** Same as the JSON op `grace_done`: lift this node's NEED. */
  @Post('grace/done')
  @HttpCode(200)
  @UseGuards(AdminTokenGuard)
  @ApiBearerAuth()
  graceDone(@Body(new ZodBodyPipe(GraceDoneBody)) body: z.infer<typeof GraceDoneBody>) {
    return this.core.service.handle({ op: 'grace_done', wait: body.wait ?? false }, 'rest');
  }
}

/** Prometheus gauges read from the core at scrape time. */
@Injectable()
class AgentMetrics implements OnModuleInit {
  constructor(
    private readonly registry: MetricsRegistry,
    @Inject(AGENT) private readonly core: AgentCore,
  ) {}

  onModuleInit(): void {
    const core = this.core;
    const registers = [this.registry];
    new Gauge({ name: 'gk_agent_view_sequence', help: 'stream sequence the live view has applied', registers, collect() { this.set(core.view.version); } });
    new Gauge({ name: 'gk_agent_epoch', help: 'current epoch C', registers, collect() { this.set(core.view.state.epoch); } });
    new Gauge({ name: 'gk_agent_recovery_epoch', help: 'recovery epoch R (0: no grace)', registers, collect() { this.set(core.view.state.recoveryEpoch); } });
    new Gauge({
      name: 'gk_agent_client_records', help: "this node's client records", labelNames: ['set'], registers,
      collect() {
        const r = core.view.state.records.get(core.service.node);
        this.set({ set: 'current' }, r?.current.size ?? 0);
        this.set({ set: 'recovery' }, r?.recovery?.size ?? 0);
      },
    });
    new Counter({
      name: 'gk_agent_requests_total', help: 'requests answered, by op and status', labelNames: ['op', 'status'], registers,
      collect() {
        this.reset();
        for (const [key, n] of core.service.counters) {
          const [op, status] = key.split(' ');
          this.inc({ op, status }, n);
        }
      },
    });
    new Counter({
      name: 'gk_agent_refusals_not_stored_total', help: 'final refusals answered outside grace, not stored as events (noise)', labelNames: ['op'], registers,
      collect() {
        this.reset();
        for (const [op, n] of core.service.refusalsNotStored) this.inc({ op }, n);
      },
    });
    new Gauge({ name: 'gk_agent_group_commits', help: 'appends made by the group committer for batches', registers, collect() { this.set(core.views.totalBatches); } });
    new Gauge({ name: 'gk_agent_group_committed_requests', help: 'requests that went out in those batches', registers, collect() { this.set(core.views.totalBatchedRequests); } });
    new Gauge({ name: 'gk_agent_end_grace_writes', help: 'times Y was written to v4_end_grace', registers, collect() { this.set(core.endGrace.writes); } });
  }
}

@Module({})
export class AgentAdminModule {
  static forAgent(core: AgentCore, tokens: { admin?: string; read?: string } = {}): DynamicModule {
    const agent = { provide: AGENT, useValue: core };
    const liveView: ReadinessCheck = {
      name: 'live-view',
      async check() {
        await core.view.catchUp();
        return { sequence: core.view.version, epoch: core.view.state.epoch, recoveryEpoch: core.view.state.recoveryEpoch };
      },
    };
    return {
      module: AgentAdminModule,
      imports: [
        GraceStoreModule.forStore(core.opened),
        HealthModule.forRoot({ checks: [{ provide: HEALTH_CHECKS, useValue: [liveView] }] }),
        MetricsModule,
      ],
      controllers: [AgentAdminController],
      providers: [agent, AgentMetrics, { provide: ADMIN_TOKEN, useValue: tokens.admin }, { provide: READ_TOKEN, useValue: tokens.read }],
    };
  }
}
