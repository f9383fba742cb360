import type { NatsConnection } from '@nats-io/transport-node';
import { clientIdOfOwner, ClientIdSchema, NodeIdSchema, ownerText, type StreamNames, subjects } from '#contracts';

/** A failed query, with the HTTP status the console answers. */
export class ConsoleQueryError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** What the auditor typed: exactly one of an owner (text), a client id (hex), a node, an epoch. */
export type AuditQuery = { owner?: string; client?: string; node?: string; epoch?: string };

const MAX_AUDIT_ENTRIES = 2000;

/** The registry's audit request for what was typed, or a ConsoleQueryError (400) saying what is wrong. */
export function auditRequest(q: AuditQuery): Record<string, unknown> {
  const given = (['owner', 'client', 'node', 'epoch'] as const).filter((k) => q[k] !== undefined && q[k] !== '');
  if (given.length !== 1) throw new ConsoleQueryError(400, 'search by exactly one of: owner (text), client (hex id), node, epoch');
  const value = q[given[0]!];
  if (typeof value !== 'string') throw new ConsoleQueryError(400, `give ${given[0]} once`);
  switch (given[0]) {
    case 'owner': {
      const client = clientIdOfOwner(value);
      if (!ClientIdSchema.safeParse(client).success) throw new ConsoleQueryError(400, 'the owner is longer than 1024 bytes');
      return { op: 'audit', client, limit: MAX_AUDIT_ENTRIES };
    }
    case 'client':
      if (!ClientIdSchema.safeParse(value).success) throw new ConsoleQueryError(400, 'a client id is lowercase hex of whole bytes (at most 1024 bytes); to search by owner text use "owner"');
      return { op: 'audit', client: value, limit: MAX_AUDIT_ENTRIES };
    case 'node':
      if (!NodeIdSchema.safeParse(value).success) throw new ConsoleQueryError(400, 'a node id is 1-128 of letters, digits and _ . : -');
      return { op: 'audit', node: value, limit: MAX_AUDIT_ENTRIES };
    default: {
      const epoch = Number(value);
      if (!Number.isSafeInteger(epoch) || epoch < 1) throw new ConsoleQueryError(400, 'an epoch is a positive integer');
      return { op: 'audit', epoch, limit: MAX_AUDIT_ENTRIES };
    }
  }
}

/**
 * Queries the client-registry over its NATS request subjects (the registry answers audits from its
 * PostgreSQL read model). The read token this coordinator is configured with goes in `token`.
 */
export class RegistryQueries {
  constructor(
    private readonly nc: NatsConnection,
    private readonly names: StreamNames,
    private readonly readToken: string | undefined,
    private readonly timeoutMs = 10_000,
  ) {}

  async audit(cluster: string, q: AuditQuery): Promise<object> {
    const request = auditRequest(q);
    // The registry's audit texts already show owners as text where printable (#contracts ownerShown).
    const reply = await this.ask(cluster, request) as { entries?: { text: string }[] };
    const client = typeof request.client === 'string' ? request.client : undefined;
    return {
      ...reply,
      ...(client !== undefined ? { owner: ownerText(client), client } : {}),
      entries: reply.entries ?? [],
    };
  }

  gracePeriods(cluster: string): Promise<object> {
    return this.ask(cluster, { op: 'gracePeriods' });
  }

  private async ask(cluster: string, request: Record<string, unknown>): Promise<Record<string, unknown>> {
    const body = this.readToken ? { ...request, token: this.readToken } : request;
    let reply: Record<string, unknown>;
    try {
      const msg = await this.nc.request(subjects.registryRequests(this.names, cluster), JSON.stringify(body), { timeout: this.timeoutMs });
      reply = msg.json<Record<string, unknown>>();
    } catch (err) {
      throw new ConsoleQueryError(503, `the client-registry did not answer (${(err as Error).message}): audits need it running`);
    }
    if (reply.ok !== true) {
      const status = reply.code === 'BAD_REQUEST' ? 400 : reply.code === 'UNAUTHORIZED' || reply.code === 'FORBIDDEN' ? 502 : 503;
      throw new ConsoleQueryError(status, `client-registry: ${String(reply.code)}: ${String(reply.error)}`);
    }
    return reply;
  }
}
