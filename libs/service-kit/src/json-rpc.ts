import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { z } from 'zod';
import { zodProblemText } from '#contracts';

/** The error reply both services' request/reply APIs share (their own codes extend these). */
export interface RpcErrorReply<Code extends string = string> {
  ok: false;
  code: Code;
  error: string;
}

/** Parses an untrusted request against its schema; never throws. */
export function parseRpcRequest<S extends z.ZodType>(schema: S, raw: unknown): { ok: true; request: z.infer<S> } | { ok: false; reply: RpcErrorReply<'BAD_REQUEST'> } {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, request: parsed.data };
  return { ok: false, reply: { ok: false, code: 'BAD_REQUEST', error: zodProblemText(parsed.error, 'request') } };
}

export interface JsonRpcOptions {
  /** Subject (may end in a wildcard); replicas share the load through the queue group. */
  subject: string;
  queue: string;
  /** Answers one decoded request; `subject` is the message's own (e.g. to read a cluster from it). */
  handle(subject: string, raw: unknown): Promise<object>;
  /** True once the service is shutting down: requests are left for another replica. */
  closed(): boolean;
}

/**
 * NATS JSON request/reply: UTF-8 JSON in, one JSON reply out. Bad input, a failing handler and
 * a reply that cannot be sent (unserialisable, or larger than the server's max_payload) all
 * answer an error reply: nothing a caller sends can throw out of the subscription callback.
 */
export function serveJsonRequests(nc: NatsConnection, options: JsonRpcOptions): Subscription {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return nc.subscribe(options.subject, {
    queue: options.queue,
    callback: (err, msg) => {
      if (err || options.closed() || !msg.reply) return;
      let raw: unknown;
      try {
        raw = JSON.parse(decoder.decode(msg.data));
      } catch (e) {
        respondJson(nc, msg, { ok: false, code: 'BAD_REQUEST', error: `not UTF-8 JSON: ${(e as Error).message}` });
        return;
      }
      options.handle(msg.subject, raw).then(
        (reply) => respondJson(nc, msg, reply),
        (e: unknown) => respondJson(nc, msg, { ok: false, code: 'INTERNAL', error: e instanceof Error ? e.message : String(e) }),
      );
    },
  });
}

/** Sends a reply, or an INTERNAL error reply saying why that reply could not be sent; never throws. */
export function respondJson(nc: NatsConnection, msg: Msg, reply: object): void {
  const fallback = (why: string) => JSON.stringify({ ok: false, code: 'INTERNAL', error: `the reply could not be sent: ${why}` } satisfies RpcErrorReply);
  let text: string;
  try {
    text = JSON.stringify(reply);
  } catch (e) {
    text = fallback((e as Error).message);
  }
  const maxPayload = nc.info?.max_payload ?? Number.POSITIVE_INFINITY;
  if (Buffer.byteLength(text) > maxPayload) text = fallback(`it is ${Buffer.byteLength(text)} bytes, over the server's max_payload of ${maxPayload}`);
  try {
    msg.respond(text);
  } catch {
    // The connection is closing or the reply subject went away: nobody is left to answer.
  }
}
