import { Controller, Get, HttpCode, HttpException, Inject, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { AdminTokenGuard, ReadTokenGuard } from '#service-kit';
import { ClientRegistry } from './registry';
import type { RegistryErrorCode, RegistryReply } from './requests';

const STATUS_OF: Record<RegistryErrorCode, number> = { BAD_REQUEST: 400, UNAUTHORIZED: 401, NO_READ_MODEL: 503, UNAVAILABLE: 503, INTERNAL: 500 };

function answer(reply: RegistryReply): RegistryReply {
  if (!reply.ok) throw new HttpException(reply, STATUS_OF[reply.code] ?? 500);
  return reply;
}

/** Query-string values as the request fields they stand for (the request schema validates them). */
const int = (v?: string) => (v === undefined || v === '' ? undefined : /^\d+$/.test(v) ? Number(v) : v);
const bool = (v?: string) => (v === undefined || v === '' ? undefined : v === 'true' ? true : v === 'false' ? false : v);
const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/**
 * REST admin of the client-registry (SPEC §4.3): the same queries as the NATS endpoint, with the
 * same answers. Reads (client identities) need the read token when one is set; a replay needs the
 * admin token. Every answer carries `sequence`,
 * the stream sequence it reflects, and `generation`, the read model generation it was read from.
 */
@ApiTags('client-registry')
@ApiBearerAuth()
@UseGuards(ReadTokenGuard)
@Controller()
export class RegistryController {
  constructor(@Inject(ClientRegistry) private readonly registry: ClientRegistry) {}

  @Get('projection')
  @ApiOperation({ summary: 'The read model: live generation, checkpoint, stream position and lag, this replica\'s role, replay in progress' })
  async projection() {
    return answer(await this.registry.handle('_', { op: 'projection' }, 'rest'));
  }

  @Post('projection/replay')
  @HttpCode(202)
  @UseGuards(AdminTokenGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Rebuild the read model from the first event into a new generation and swap it in (the live projection keeps serving)' })
  @ApiAcceptedResponse({ description: 'the replay job; follow it with GET /projection/replay' })
  replay() {
    return this.registry.startReplay();
  }

  @Get('projection/replay')
  @ApiOperation({ summary: 'The last replay started on this replica: progress, result or error' })
  replayStatus() {
    if (!this.registry.replay) throw new HttpException({ ok: false, error: 'no replay was started on this replica' }, 404);
    return this.registry.replay;
  }

  @Get('projection/malformed')
  @ApiOperation({ summary: 'Malformed stream messages the projection recorded and skipped (latest first)' })
  async malformed(@Query('limit') limit?: string) {
    const n = Number(limit ?? 100);
    return this.registry.queries.malformed(Number.isFinite(n) ? n : 100);
  }

  @Get('clusters/:cluster')
  @ApiOperation({ summary: 'The cluster\'s grace state as the read model holds it' })
  async cluster(@Param('cluster') cluster: string, @Query('atLeast') atLeast?: string) {
    return answer(await this.registry.handle(cluster, defined({ op: 'cluster', atLeast: int(atLeast) }), 'rest'));
  }

  @Get('clusters/:cluster/clients')
  @ApiOperation({ summary: 'Client records, filtered by node, epoch (of either record) and validity, in pages (keyset: afterNode + afterClient from `next`)' })
  @ApiQuery({ name: 'node', required: false }) @ApiQuery({ name: 'epoch', required: false }) @ApiQuery({ name: 'valid', required: false, enum: ['true', 'false'] })
  @ApiQuery({ name: 'limit', required: false }) @ApiQuery({ name: 'afterNode', required: false }) @ApiQuery({ name: 'afterClient', required: false })
  async clients(
    @Param('cluster') cluster: string,
    @Query('node') node?: string, @Query('epoch') epoch?: string, @Query('valid') valid?: string, @Query('limit') limit?: string,
    @Query('afterNode') afterNode?: string, @Query('afterClient') afterClient?: string, @Query('atLeast') atLeast?: string,
  ) {
    const after = afterNode !== undefined || afterClient !== undefined ? { node: afterNode, client: afterClient } : undefined;
    return answer(await this.registry.handle(cluster, defined({ op: 'clients', node, epoch: int(epoch), valid: bool(valid), limit: int(limit), after, atLeast: int(atLeast) }), 'rest'));
  }

  @Get('clusters/:cluster/clients/:client')
  @ApiOperation({ summary: 'One client: its records on every node and the events that name it' })
  async client(@Param('cluster') cluster: string, @Param('client') client: string, @Query('atLeast') atLeast?: string) {
    return answer(await this.registry.handle(cluster, defined({ op: 'client', client, atLeast: int(atLeast) }), 'rest'));
  }

  @Get('clusters/:cluster/nodes/:node/clients/:client/reclaimable')
  @ApiOperation({ summary: 'Is this client reclaimable on this node now? The reclaim rule on the projected state, with the reason' })
  @ApiOkResponse({ description: '{ok, reclaimable, status (OK | NFS4ERR_GRACE | NFS4ERR_NO_GRACE | NFS4ERR_RECLAIM_BAD), why, sequence}' })
  async reclaimable(@Param('cluster') cluster: string, @Param('node') node: string, @Param('client') client: string, @Query('atLeast') atLeast?: string) {
    return answer(await this.registry.handle(cluster, defined({ op: 'reclaimable', node, client, atLeast: int(atLeast) }), 'rest'));
  }

  @Get('clusters/:cluster/nodes/:node/reclaimable-clients')
  @ApiOperation({ summary: 'Which clients of this node may reclaim in the grace period in force' })
  async reclaimableClients(@Param('cluster') cluster: string, @Param('node') node: string, @Query('atLeast') atLeast?: string) {
    return answer(await this.registry.handle(cluster, defined({ op: 'reclaimableClients', node, atLeast: int(atLeast) }), 'rest'));
  }

  @Get('clusters/:cluster/grace-periods')
  @ApiOperation({ summary: 'Grace periods: start, end, reason, abandoned nodes, reclaims accepted and rejected, records invalidated' })
  async gracePeriods(@Param('cluster') cluster: string, @Query('atLeast') atLeast?: string) {
    return answer(await this.registry.handle(cluster, defined({ op: 'gracePeriods', atLeast: int(atLeast) }), 'rest'));
  }

  @Get('clusters/:cluster/audit')
  @ApiOperation({ summary: 'The causal timeline of a client, a node or an epoch (exactly one of the three)' })
  @ApiQuery({ name: 'client', required: false }) @ApiQuery({ name: 'node', required: false }) @ApiQuery({ name: 'epoch', required: false })
  async audit(@Param('cluster') cluster: string, @Query('client') client?: string, @Query('node') node?: string, @Query('epoch') epoch?: string, @Query('limit') limit?: string) {
    return answer(await this.registry.handle(cluster, defined({ op: 'audit', client, node, epoch: int(epoch), limit: int(limit) }), 'rest'));
  }
}
