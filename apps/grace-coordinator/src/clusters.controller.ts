import { Body, Controller, Get, Header, HttpCode, HttpException, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { AdminTokenGuard, ReadTokenGuard } from '#service-kit';
import { GraceCoordinator } from './coordinator';
import { CHANGE_OPS, CoordinatorReply, CoordinatorRequestSchema, ErrorCode, isChange } from './operations';

const STATUS_OF: Record<ErrorCode, number> = {
  NO_CLUSTER: 404, NOT_SERVED: 404, NOT_MEMBER: 404, UNKNOWN_HOST: 404,
  NO_NODES: 400, INVALID: 400, BAD_REQUEST: 400, UNAUTHORIZED: 401, FORBIDDEN: 403,
  IN_GRACE: 409, NOT_IN_GRACE: 409, NOT_YET: 409, WAIT_POLICY: 409, FENCED: 409,
  UNAVAILABLE: 503, INTERNAL: 500,
};

/** The body of a change: the NATS request without `op` (which is in the path). */
const requestBodySchema = (() => {
  try {
    return z.toJSONSchema(CoordinatorRequestSchema, { unrepresentable: 'any' }) as Record<string, unknown>;
  } catch {
    return { type: 'object' };
  }
})();

function answer(reply: CoordinatorReply): CoordinatorReply {
  if (!reply.ok) throw new HttpException(reply, STATUS_OF[reply.code] ?? 500);
  return reply;
}

/**
 * REST admin of the grace-coordinator (SPEC §4.3). The same operations as gracectl and the NATS
 * endpoint, with the same answers: reads need the read token when one is set, changes the admin token.
 */
@ApiTags('clusters')
@ApiBearerAuth()
@UseGuards(ReadTokenGuard)
@Controller('clusters')
export class ClustersController {
  constructor(private readonly coordinator: GraceCoordinator) {}

  @Get()
  @ApiOperation({ summary: 'The clusters this coordinator serves, with their epochs' })
  list() {
    return {
      clusters: [...this.coordinator.clusters].map(([cluster, c]) => ({
        cluster,
        exists: c.state?.exists ?? false,
        epoch: c.state?.epoch,
        recoveryEpoch: c.state?.recoveryEpoch,
        version: c.version,
      })),
    };
  }

  @Get(':cluster')
  @ApiOperation({ summary: 'Status: epochs, members and flags, grace start, deadline, reclaims, configuration, and the dump text' })
  @ApiOkResponse({ description: '{ok: true, dump, summary}' })
  async status(@Param('cluster') cluster: string) {
    return answer(await this.coordinator.handle(cluster, { op: 'status' }, 'rest'));
  }

  @Get(':cluster/dump')
  @Header('Content-Type', 'text/plain; charset=utf-8')
  @ApiOperation({ summary: 'The ganesha-rados-grace dump text, exactly as `gracectl dump` prints it' })
  async dump(@Param('cluster') cluster: string): Promise<string> {
    const reply = answer(await this.coordinator.handle(cluster, { op: 'dump' }, 'rest'));
    return reply.ok ? reply.dump : '';
  }

  @Get(':cluster/members')
  @ApiOperation({ summary: 'Like `gracectl member`: 200 when every listed node is a member, 404 otherwise' })
  @ApiQuery({ name: 'nodes', description: 'comma-separated node ids', example: 'a,b' })
  async member(@Param('cluster') cluster: string, @Query('nodes') nodes?: string) {
    const list = (nodes ?? '').split(',').map((n) => n.trim()).filter(Boolean);
    return answer(await this.coordinator.handle(cluster, { op: 'member', nodes: list }, 'rest'));
  }

  @Post(':cluster/:op')
  @HttpCode(200)
  @UseGuards(AdminTokenGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Change the grace state: add | start | join | lift | remove | enforce | noenforce (body {nodes}), configure (body {config}), end (ends grace now, reason admin), move (body {identity, host}: failover/failback)' })
  @ApiParam({ name: 'op', enum: CHANGE_OPS })
  @ApiBody({ schema: requestBodySchema, description: 'e.g. {"nodes": ["a", "b"]}, {"config": {"graceTimeMs": 60000}} or {"identity": "b", "host": "a"}; optional causation. The recorded actor is admin-token@rest' })
  @ApiOkResponse({ description: '{ok: true, dump, summary, sequence}' })
  async change(@Param('cluster') cluster: string, @Param('op') op: string, @Body() body: unknown) {
    if (!isChange(op)) {
      throw new HttpException({ ok: false, code: 'BAD_REQUEST', error: `unknown operation ${JSON.stringify(op)}: use one of ${CHANGE_OPS.join(', ')}` }, 404);
    }
    const fields = body && typeof body === 'object' && !Array.isArray(body) ? body : {};
    if ('op' in fields) throw new HttpException({ ok: false, code: 'BAD_REQUEST', error: 'the operation is given by the path, not the body' }, 400);
    if ('token' in fields) throw new HttpException({ ok: false, code: 'BAD_REQUEST', error: 'the token goes in the Authorization header, not the body' }, 400);
    return answer(await this.coordinator.handle(cluster, { ...fields, op }, 'rest'));
  }
}
