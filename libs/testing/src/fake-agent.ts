/**
 * A real JSON-lines Unix socket server standing in for the node-agent (for gk-cltrack and the
 * agent client's tests). By default it keeps an in-memory record set with the JSON API's
 * statuses; `respond` overrides the answer to a request, to simulate failures, or answers later
 * (a promise), to reorder replies.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export type FakeRequest = { id: unknown; op: string; [field: string]: unknown };
/** A reply object, a raw reply line (`{ raw }`, written as it is), or what to do instead of answering. */
export type FakeResponse = Record<string, unknown> | { raw: string } | 'close' | 'silence' | 'garbage' | undefined;

export class FakeAgent {
  readonly requests: FakeRequest[] = [];
  readonly clients = new Map<string, { hasSession: boolean }>();
  /** Return undefined to fall back to the default behaviour; a promise answers when it settles. */
  respond: (req: FakeRequest) => FakeResponse | Promise<FakeResponse> = () => undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(
    /** The socket's directory; removed by `stop` when it made it. */
    readonly dir: string,
    readonly socketPath: string,
    private readonly server: Server,
    private readonly ownsDir: boolean,
  ) {}

  /** Listens at `socketPath`, or in a temporary directory of its own. */
  static async start(socketPath?: string): Promise<FakeAgent> {
    const dir = socketPath ? dirname(socketPath) : mkdtempSync(join(tmpdir(), 'gk-fake-agent-'));
    const path = socketPath ?? join(dir, 'agent.sock');
    let agent!: FakeAgent;
    const server = createServer((socket) => agent.serve(socket));
    agent = new FakeAgent(dir, path, server, !socketPath);
    await new Promise<void>((resolve) => server.listen(path, resolve));
    return agent;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      buffered += text;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const req = JSON.parse(buffered.slice(0, nl)) as FakeRequest;
        buffered = buffered.slice(nl + 1);
        this.requests.push(req);
        const answer = this.respond(req);
        if (answer instanceof Promise) void answer.then((later) => this.reply(socket, req, later));
        else this.reply(socket, req, answer);
      }
    });
  }

  private reply(socket: Socket, req: FakeRequest, response: FakeResponse): void {
    const answer = response ?? this.defaultAnswer(req);
    if (answer === 'close') socket.destroy();
    else if (answer === 'garbage') socket.write('this is not json\n');
    else if (typeof answer === 'object' && typeof answer.raw === 'string' && Object.keys(answer).length === 1) socket.write(`${answer.raw}\n`);
    else if (answer !== 'silence') socket.write(`${JSON.stringify({ id: req.id, ...answer })}\n`);
  }

  private defaultAnswer(req: FakeRequest): Record<string, unknown> {
    const client = String(req.client);
    switch (req.op) {
      case 'hello':
        return { status: 'OK', cluster: 'fake', node: 'fake', epoch: 1, recoveryEpoch: 0, inGrace: false };
      case 'grace_start':
        return { status: 'OK', epoch: 2, recoveryEpoch: 1, reclaimable: this.clients.size };
      case 'create':
        this.clients.set(client, { hasSession: req.hasSession === true });
        return { status: 'OK' };
      case 'remove':
        this.clients.delete(client);
        return { status: 'OK' };
      case 'check':
        return { status: this.clients.has(client) ? 'OK' : 'NFS4ERR_RECLAIM_BAD' };
      case 'grace_done':
        return { status: 'OK', ended: true };
      default:
        return { status: 'ERR_BAD_REQUEST', error: `unknown op ${req.op}` };
    }
  }
}
