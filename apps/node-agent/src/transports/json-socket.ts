import type { Socket } from 'node:net';
import { type AgentReply, parseAgentRequest, readRequestId } from '#contracts';
import { type SocketAccess, UnixSocketServer } from '#service-kit';
import type { AgentService } from '../core/agent-service';
import { AgentLog, errorText } from '../core/log';
import { LineSplitter } from './line-splitter';

/** A request line is a few KiB at most (a 1024-byte client id is 2048 hex digits). */
export const MAX_LINE_BYTES = 64 * 1024;
/** Requests in flight per connection before the agent stops reading from it (backpressure). */
const MAX_IN_FLIGHT = 4096;

/**
 * The JSON-lines API (SPEC §4.1) on a Unix stream socket: one request object per line, one
 * reply per request with the same `id`. Requests are handled concurrently, so pipelined requests
 * may be answered out of order (and concurrent writes share group commits). Bad input gets
 * ERR_BAD_REQUEST and the connection stays usable.
 */
export async function listenJsonSocket(path: string, service: AgentService, log: AgentLog, access?: SocketAccess): Promise<UnixSocketServer> {
  const server = await UnixSocketServer.listen(path, (socket) => serveJsonLines(socket, service, log), { access, onRefused: (m) => log.error(m) });
  log.info(`JSON API on ${path}`);
  return server;
}

function serveJsonLines(socket: Socket, service: AgentService, log: AgentLog): void {
  const splitter = new LineSplitter(MAX_LINE_BYTES);
  let inFlight = 0;
  const send = (reply: AgentReply) => {
    if (!socket.destroyed) socket.write(replyLine(reply));
  };
  socket.on('error', (err) => log.debug(`JSON client: ${errorText(err)}`));
  socket.on('data', (chunk: Buffer) => {
    const { lines, overflows } = splitter.push(chunk);
    for (let i = 0; i < overflows; i++) send({ id: null, status: 'ERR_BAD_REQUEST', error: `request line longer than ${MAX_LINE_BYTES} bytes` });
    for (const line of lines) {
      if (line.trim() === '') continue;
      inFlight++;
      if (inFlight === MAX_IN_FLIGHT) socket.pause();
      void answer(line, service, log).then((reply) => {
        send(reply);
        if (inFlight-- === MAX_IN_FLIGHT) socket.resume();
      });
    }
  });
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
