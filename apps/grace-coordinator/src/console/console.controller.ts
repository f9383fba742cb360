import type { ServerResponse } from 'node:http';
import { Controller, Get, HttpException, Inject, Logger, NotFoundException, Param, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiExcludeEndpoint, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ReadTokenGuard } from '#service-kit';
import { GraceCoordinator } from '../coordinator';
import { clusterNow } from './cluster-now';
import { CONSOLE_SECURITY_HEADERS, loadConsoleAssets } from './console-assets';
import { ConsoleHub } from './console-hub';
import { type AuditQuery, ConsoleQueryError, RegistryQueries } from './registry-queries';

/**
 * The web console (docs/operations.md, "Console"): a static page and the JSON and server-sent
 * event endpoints it reads. Reads need the read token when one is set, as the REST admin's;
 * the page's admin actions call the REST admin's own change endpoints with the admin token.
 */
@ApiTags('console')
@Controller('console')
export class ConsoleController {
  private readonly web = loadConsoleAssets();

  constructor(
    private readonly coordinator: GraceCoordinator,
    private readonly hub: ConsoleHub,
    @Inject(RegistryQueries) private readonly registry: RegistryQueries,
  ) {
    if (this.web.missing) new Logger('console').warn(this.web.missing);
  }

  @Get()
  @ApiExcludeEndpoint()
  page(@Res() res: ServerResponse): void {
    this.send(res, 'index.html');
  }

  @Get('assets/:file')
  @ApiExcludeEndpoint()
  asset(@Param('file') file: string, @Res() res: ServerResponse): void {
    if (file === 'index.html' || !this.web.assets.has(file)) throw new NotFoundException(`no console asset ${JSON.stringify(file.slice(0, 64))}`);
    this.send(res, file);
  }

  @Get('api/clusters')
  @UseGuards(ReadTokenGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'The clusters this coordinator serves (the console\'s cluster menu)' })
  clusters() {
    return { ok: true, clusters: [...this.coordinator.clusters.keys()] };
  }

  @Get('api/clusters/:cluster/now')
  @UseGuards(ReadTokenGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'The cluster now (epochs, members, deadline, reclaim progress per node) and the grace periods this replica saw' })
  now(@Param('cluster') cluster: string) {
    const c = this.served(cluster);
    if (!c.state) throw new HttpException({ ok: false, code: 'UNAVAILABLE', error: `the view of cluster ${cluster} is reconnecting; retry` }, 503);
    return { ok: true, now: clusterNow(c.state, c.version, Date.now()), timeline: this.hub.timeline(cluster) };
  }

  @Get('api/clusters/:cluster/events')
  @UseGuards(ReadTokenGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Server-sent events: `now` (the cluster now), `timeline` (once), `period` (a grace period that changed)' })
  events(@Param('cluster') cluster: string, @Res() res: ServerResponse): void {
    const c = this.served(cluster);
    if (!this.hub.follow(cluster, res, c.state, c.version)) {
      res.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '10' });
      res.end(JSON.stringify({ ok: false, code: 'UNAVAILABLE', error: 'too many consoles are following this coordinator; retry later' }));
    }
  }

  @Get('api/clusters/:cluster/history')
  @UseGuards(ReadTokenGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Every grace period of the cluster, from the client-registry\'s read model' })
  history(@Param('cluster') cluster: string) {
    this.served(cluster);
    return this.registry.gracePeriods(cluster).catch(rethrow);
  }

  @Get('api/clusters/:cluster/audit')
  @UseGuards(ReadTokenGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Causal audit of one client (owner text or hex id), node or epoch, from the client-registry; owners shown as text when printable' })
  audit(@Param('cluster') cluster: string, @Query() query: AuditQuery) {
    this.served(cluster);
    const { owner, client, node, epoch } = query;
    return this.registry.audit(cluster, { owner, client, node, epoch }).catch(rethrow);
  }

  private served(cluster: string) {
    const c = this.coordinator.clusters.get(cluster);
    if (!c) throw new HttpException({ ok: false, code: 'NOT_SERVED', error: `cluster ${JSON.stringify(cluster.slice(0, 128))} is not served by this coordinator` }, 404);
    return c;
  }

  private send(res: ServerResponse, name: string): void {
    const asset = this.web.assets.get(name);
    if (!asset) {
      res.writeHead(503, { ...CONSOLE_SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`${this.web.missing ?? 'console unavailable'}\n`);
      return;
    }
    res.writeHead(200, { ...CONSOLE_SECURITY_HEADERS, 'Content-Type': asset.type, 'Content-Length': String(asset.body.length) });
    res.end(asset.body);
  }
}

function rethrow(err: unknown): never {
  if (err instanceof ConsoleQueryError) throw new HttpException({ ok: false, code: err.status === 400 ? 'BAD_REQUEST' : 'UNAVAILABLE', error: err.message }, err.status);
  throw err;
}
