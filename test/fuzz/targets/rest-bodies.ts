import { BadRequestException } from '@nestjs/common';
import fc from 'fast-check';
import { ZodBodyPipe } from '#service-kit';
import { GraceDoneBody } from '../../../apps/node-agent/src/admin/admin.module';
import { parseRegistryRequest } from '../../../apps/client-registry/src/requests';
import { parseRequest } from '../../../apps/grace-coordinator/src/operations';
import { expectThat, type FuzzTarget } from '../harness';
import { mutatedJson } from '../mutators';

/**
 * REST bodies and NATS RPC requests of the grace-coordinator and the client-registry (the same
 * zod schemas validate both), and the agent admin's ZodBodyPipe. A request is accepted or answered
 * BAD_REQUEST / 400 with a bounded message; an accepted one is valid again as parsed, and its
 * JSON can be written back.
 */
const node = 'node-1';
const client = 'ab'.repeat(8);
const COORDINATOR: unknown[] = [
  { op: 'status' }, { op: 'dump', actor: 'gracectl:root' },
  { op: 'add', nodes: ['a', 'b'], config: { graceTimeMs: 60_000, exitPolicy: 'first-exit' }, causation: 'c-1' },
  { op: 'start', nodes: [node], addMissing: true }, { op: 'lift', nodes: ['a'] }, { op: 'remove', nodes: ['b'] },
  { op: 'configure', config: { leaseTimeMs: 90_000, graceTimeMs: 90_000, deadlinePolicy: 'wait', exitPolicy: 'all-clear' } }, { op: 'end' },
];
const REGISTRY: unknown[] = [
  { op: 'reclaimable', node, client, atLeast: 5, waitMs: 100 }, { op: 'reclaimableClients', node },
  { op: 'clients', node, epoch: 2, valid: true, limit: 10, after: { node, client } }, { op: 'client', client },
  { op: 'gracePeriods' }, { op: 'cluster', atLeast: 0 }, { op: 'audit', node, limit: 100 }, { op: 'projection' },
];
/** The agent admin's POST /grace-done body, through the pipe every REST body goes through. */
const pipe = new ZodBodyPipe(GraceDoneBody);

const MAX_ERROR_CHARS = 8 * 1024;

export const restBodies: FuzzTarget<{ which: 'coordinator' | 'registry' | 'pipe'; body: unknown }> = {
  name: 'rest-bodies',
  covers: ['apps/grace-coordinator/src/operations.ts', 'apps/client-registry/src/requests.ts', 'libs/service-kit/src/zod-pipe.ts', 'libs/contracts/src/'],
  interface: 'REST bodies / NATS RPC requests (coordinator and registry request schemas, ZodBodyPipe)',
  arbitrary: fc.oneof(
    mutatedJson(COORDINATOR).map((body) => ({ which: 'coordinator' as const, body })),
    mutatedJson(REGISTRY).map((body) => ({ which: 'registry' as const, body })),
    mutatedJson([{ wait: true }, {}]).map((body) => ({ which: 'pipe' as const, body })),
  ),
  check({ which, body }) {
    if (which === 'pipe') {
      try {
        const value = pipe.transform(body);
        expectThat(GraceDoneBody.safeParse(value).success, 'an accepted body is valid again');
      } catch (err) {
        expectThat(err instanceof BadRequestException, `a bad body is a 400 (got ${String(err)})`);
        expectThat(JSON.stringify((err as BadRequestException).getResponse()).length <= MAX_ERROR_CHARS, 'a bounded 400 body');
      }
      return;
    }
    const parse = which === 'coordinator' ? parseRequest : parseRegistryRequest;
    const parsed = parse(body);
    if (!parsed.ok) {
      const reply = parsed.reply as { ok: false; code: string; error: string };
      expectThat(reply.code === 'BAD_REQUEST', 'a refused request is BAD_REQUEST');
      expectThat(typeof reply.error === 'string' && reply.error.length <= MAX_ERROR_CHARS, `a bounded error (${reply.error.length} characters)`);
      return;
    }
    const again = parse(JSON.parse(JSON.stringify(parsed.request)));
    expectThat(again.ok && JSON.stringify(again.request) === JSON.stringify(parsed.request), 'an accepted request parses again to itself');
  },
};
