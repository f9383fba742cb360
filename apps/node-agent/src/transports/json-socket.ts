import type { Socket } from 'node:net';
import { type AgentReply, parseAgentRequest, readRequestId } from '#contracts';
import { type SocketAccess, UnixSocketServer } from '#service-kit/plain';
import type { AgentService } from '../core/agent-service';
import { AgentLog, errorText } from '../core/log';
import { ConnectionFlow, DEFAULT_FLOW_LIMITS, DEFAULT_GLOBAL_IN_FLIGHT, type FlowLimits, InFlightBudget } from './flow-control';
import { LineSplitter } from './line-splitter';

/** A request line is a few KiB at most (a 1024-byte client id is 2048 hex digits). */
export const MAX_LINE_BYTES = 64 * 1024;

export interface JsonSocketLimits extends FlowLimits {
  /** Requests in flight across all connections before new ones are answered NFS4ERR_DELAY. */
  global: number;
}

/**
 * The JSON-lines API (SPEC §4.1) on a Unix stream socket: one request object per line, one
 * reply per request with the same `id`. Requests are handled concurrently, so pipelined requests
 * may be answered out of order (and concurrent writes share group commits). Bad input gets
 * ERR_BAD_REQUEST and the connection stays usable.
 */
export async function listenJsonSocket(path: string, service: AgentService, log: AgentLog, options: { access?: SocketAccess; limits?: Partial<JsonSocketLimits> } = {}): Promise<UnixSocketServer> {
  const limits = options.limits ?? {};
  const flowLimits: FlowLimits = { ...DEFAULT_FLOW_LIMITS, ...limits };
  const budget = new InFlightBudget(limits.global ?? DEFAULT_GLOBAL_IN_FLIGHT);
  const server = await UnixSocketServer.listen(path, (socket) => serveJsonLines(socket, service, log, new ConnectionFlow(socket, flowLimits), budget), { access: options.access, onRefused: (m) => log.error(m) });
  log.info(`JSON API on ${path}`);
  return server;
}

function serveJsonLines(socket: Socket, service: AgentService, log: AgentLog, flow: ConnectionFlow, budget: InFlightBudget): void {
  const splitter = new LineSplitter(MAX_LINE_BYTES);
  const send = (reply: AgentReply) => flow.write(replyLine(reply));
  socket.on('error', (err) => log.debug(`JSON client: ${errorText(err)}`));
  socket.on('data', (chunk: Buffer) => {
    const { lines, overflows } = splitter.push(chunk);
    for (let i = 0; i < overflows; i++) send({ id: null, status: 'ERR_BAD_REQUEST', error: `request line longer than ${MAX_LINE_BYTES} bytes` });
    for (const line of lines) {
      if (line.trim() === '') continue;
      // Over the global cap the request is refused before it is parsed or decided, so "retry
      // later" is true; the per-connection cap only stops reading (flow-control.ts).
      if (!budget.tryTake()) {
        send(saturated(line, 'the agent has too many requests in flight'));
        continue;
      }
      flow.started();
      void answer(line, service, log).then((reply) => {
        budget.release();
        flow.finished();
        send(reply);
      });
    }
  });
}

/** NFS4ERR_DELAY for a request refused by a cap, echoing its id when it has a readable one. */
function saturated(line: string, why: string): AgentReply {
  let id: AgentReply['id'] = null;
  try {
    const read = readRequestId(JSON.parse(line));
    if (read.ok) id = read.id;
  } catch {
    // not JSON: the id stays null
  }
  return { id, status: 'NFS4ERR_DELAY', error: `retry later: ${why}` };
}

/** One line in, one reply out; never rejects. */
export async function answer(line: string, service: AgentService, log: AgentLog): Promise<AgentReply> {
  let body: unknown;
  try {
    body = JSON.parse(line);
  } catch {
    return { id: null, status: 'ERR_BAD_REQUEST', error: `not JSON: ${line.slice(0, 80)}` };
  }
  const id = readRequestId(body);
  if (!id.ok) return { id: null, status: 'ERR_BAD_REQUEST', error: id.error };
  const parsed = parseAgentRequest(body);
  if (!parsed.ok) return { id: id.id, status: 'ERR_BAD_REQUEST', error: parsed.error };
  try {
    const reply = await service.handle(parsed.request, id.id === null ? undefined : `json:${String(id.id).slice(0, 100)}`);
    return { id: id.id, ...reply };
  } catch (err) {
    log.error(`JSON ${parsed.request.op} failed: ${errorText(err)}`);
    return { id: id.id, status: 'NFS4ERR_DELAY', error: `the agent failed on this request: ${errorText(err)}` };
  }
}

/**
 * A reply as one line. Serialising cannot be allowed to throw (it runs in a promise callback,
 * where a throw would end the process): a reply that cannot be written becomes an error reply.
 */
export function replyLine(reply: AgentReply): string {
  try {
    return `${JSON.stringify(reply)}\n`;
  } catch (err) {
    return `${JSON.stringify({ id: null, status: 'ERR_BAD_REQUEST', error: `the reply could not be written: ${errorText(err)}` })}\n`;
  }
}
