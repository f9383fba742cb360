import { createServer, type Server, type Socket } from 'node:net';
import type { AgentService } from '../core/agent-service';
import { AgentLog, errorText } from '../core/log';
import { type AgentReply, parseRequest } from '../core/requests';
import { LineSplitter } from './line-splitter';
import { closeServer, listenUnix } from './unix-listen';

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
export class JsonSocketServer {
  private readonly sockets = new Set<Socket>();
  connections = 0;

  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {}

  static async listen(path: string, service: AgentService, log: AgentLog): Promise<JsonSocketServer> {
    let self!: JsonSocketServer;
    const server = createServer((socket) => self.serve(socket, service, log));
    self = new JsonSocketServer(server, path);
    await listenUnix(server, path);
    log.info(`JSON API on ${path}`);
    return self;
  }

  close(): Promise<void> {
    return closeServer(this.server, this.sockets);
  }

  private serve(socket: Socket, service: AgentService, log: AgentLog): void {
    this.sockets.add(socket);
    this.connections++;
    const splitter = new LineSplitter(MAX_LINE_BYTES);
    let inFlight = 0;
    const send = (reply: object) => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`);
    };
    socket.on('error', (err) => log.debug(`JSON client: ${errorText(err)}`));
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      const { lines, overflows } = splitter.push(chunk);
      for (let i = 0; i < overflows; i++) send({ id: null, status: 'ERR_BAD_REQUEST', error: `request line longer than ${MAX_LINE_BYTES} bytes` });
      for (const line of lines) {
        if (line.trim() === '') continue;
        inFlight++;
        if (inFlight === MAX_IN_FLIGHT) socket.pause();
        void answer(line, service).then((reply) => {
          send(reply);
          if (inFlight-- === MAX_IN_FLIGHT) socket.resume();
        });
      }
    });
  }
}

/** One line in, one reply out; never throws. */
export async function answer(line: string, service: AgentService): Promise<object> {
  let body: unknown;
  try {
    body = JSON.parse(line);
  } catch {
    return { id: null, status: 'ERR_BAD_REQUEST', error: `not JSON: ${line.slice(0, 80)}` };
  }
  const id = typeof body === 'object' && body !== null && !Array.isArray(body) ? ((body as { id?: unknown }).id ?? null) : null;
  const parsed = parseRequest(body);
  if (!parsed.ok) return { id, status: 'ERR_BAD_REQUEST', error: parsed.error };
  const reply: AgentReply = await service.handle(parsed.request, typeof id === 'string' || typeof id === 'number' ? `json:${String(id).slice(0, 100)}` : undefined);
  return { id, ...reply };
}
