/** The shared NATS JSON request/reply server on a real NATS: every failure answers, none throws. */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { testNatsUrl } from '#testing';
import { parseRpcRequest, serveJsonRequests } from './json-rpc';

let nc: NatsConnection;
const subject = `gk_test_rpc.${process.pid}.${Date.now()}`;
const Request = z.object({ op: z.enum(['echo', 'huge', 'bigint', 'fail']), text: z.string().optional() }).strict();

beforeAll(async () => {
  nc = await connect({ servers: testNatsUrl() });
  serveJsonRequests(nc, {
    subject,
    queue: 'json-rpc-test',
    closed: () => false,
    handle: async (_subject, raw) => {
      const parsed = parseRpcRequest(Request, raw);
      if (!parsed.ok) return parsed.reply;
      switch (parsed.request.op) {
        case 'echo':
          return { ok: true, text: parsed.request.text };
        case 'huge':
          return { ok: true, text: 'x'.repeat(nc.info!.max_payload + 1) };
        case 'bigint':
          return { ok: true, n: 1n };
        case 'fail':
          throw new Error('handler broke');
      }
    },
  });
  await nc.flush();
});
afterAll(async () => {
  await nc.close();
});

async function ask(data: string): Promise<Record<string, unknown>> {
  return (await nc.request(subject, data, { timeout: 5000 })).json<Record<string, unknown>>();
}

describe('serveJsonRequests', () => {
  it('answers a request', async () => {
    expect(await ask(JSON.stringify({ op: 'echo', text: 'hi' }))).toEqual({ ok: true, text: 'hi' });
  });

  it('answers bad JSON and bad fields with BAD_REQUEST listing the problems', async () => {
    expect(await ask('{nope')).toMatchObject({ ok: false, code: 'BAD_REQUEST', error: expect.stringContaining('not UTF-8 JSON') });
    expect(await ask(JSON.stringify({ op: 'echo', text: 5, extra: 1 }))).toMatchObject({ ok: false, code: 'BAD_REQUEST', error: expect.stringMatching(/text: .*; request: /) });
  });

  it('answers INTERNAL, not nothing, for a reply over max_payload, an unserialisable reply and a failing handler', async () => {
    expect(await ask(JSON.stringify({ op: 'huge' }))).toMatchObject({ ok: false, code: 'INTERNAL', error: expect.stringContaining('max_payload') });
    expect(await ask(JSON.stringify({ op: 'bigint' }))).toMatchObject({ ok: false, code: 'INTERNAL', error: expect.stringContaining('could not be sent') });
    expect(await ask(JSON.stringify({ op: 'fail' }))).toMatchObject({ ok: false, code: 'INTERNAL', error: 'handler broke' });
    expect(await ask(JSON.stringify({ op: 'echo', text: 'still here' }))).toEqual({ ok: true, text: 'still here' });
  });
});
