import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentClient, AgentUnavailable } from './agent-client';

/** A stand-in agent on a real Unix socket: `answer` decides what each request line gets. */
class LineServer {
  readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {}

  static async listen(path: string, answer: (request: Record<string, unknown>, reply: (line: string) => void) => void): Promise<LineServer> {
    const server = createServer((socket) => {
      self.sockets.add(socket);
      socket.on('close', () => self.sockets.delete(socket));
      let buffered = '';
      socket.setEncoding('utf8');
      socket.on('data', (text: string) => {
        buffered += text;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          answer(JSON.parse(line) as Record<string, unknown>, (reply) => socket.write(`${reply}\n`));
        }
      });
    });
    const self = new LineServer(server);
    await new Promise<void>((resolve) => server.listen(path, resolve));
    return self;
  }

  async close(): Promise<void> {
    const closed = new Promise((resolve) => this.server.close(resolve));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

let dir: string;
let path: string;
const servers: LineServer[] = [];
const clients: AgentClient[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gk-agent-client-'));
  path = join(dir, 'agent.sock');
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});
const serve = async (answer: Parameters<typeof LineServer.listen>[1]) => {
  const server = await LineServer.listen(path, answer);
  servers.push(server);
  return server;
};
const client = async (options: ConstructorParameters<typeof AgentClient>[1] = {}) => {
  const c = await AgentClient.connect(path, { connectTimeoutMs: 0, ...options });
  clients.push(c);
  return c;
};
const echo = (r: Record<string, unknown>, reply: (line: string) => void) => reply(JSON.stringify({ id: r.id, status: 'OK', op: r.op }));

describe('AgentClient', () => {
  it('matches pipelined replies to their requests by id, in whatever order they come', async () => {
    const held: Array<() => void> = [];
    await serve((r, reply) => {
      held.push(() => echo(r, reply));
      if (held.length === 3) for (const answer of held.reverse()) answer();
    });
    const c = await client();
    const replies = await Promise.all(['hello', 'status', 'may_grant'].map((op) => c.request(op)));
    expect(replies.map((r) => r.op)).toEqual(['hello', 'status', 'may_grant']);
  });

  it('sends a body with its own id as it is, and keeps replies that match nothing', async () => {
    await serve((r, reply) => {
      reply(JSON.stringify({ id: null, status: 'ERR_BAD_REQUEST', error: 'about some other line' }));
      echo(r, reply);
    });
    const c = await client();
    expect(await c.send({ id: 'mine', op: 'hello' })).toEqual({ id: 'mine', status: 'OK', op: 'hello' });
    expect(c.unmatched).toEqual([{ id: null, status: 'ERR_BAD_REQUEST', error: 'about some other line' }]);
  });

  it('fails a request that gets no reply in time with AgentUnavailable, and goes on', async () => {
    await serve((r, reply) => {
      if (r.op !== 'grace_done') echo(r, reply);
    });
    const c = await client();
    await expect(c.request('grace_done', {}, { timeoutMs: 50 })).rejects.toThrow(AgentUnavailable);
    expect(await c.request('hello')).toMatchObject({ status: 'OK' });
  });

  it('fails pending requests when the agent goes away, and dials again on the next request', async () => {
    const first = await serve(() => undefined);
    const c = await client({ connectTimeoutMs: 5000 });
    const pending = c.request('hello');
    await new Promise((r) => setTimeout(r, 20));
    await first.close();
    servers.splice(servers.indexOf(first), 1);
    await expect(pending).rejects.toThrow(AgentUnavailable);
    rmSync(path, { force: true });
    await serve(echo);
    expect(await c.request('hello')).toMatchObject({ status: 'OK' });
  });

  it('with unreadableReplies "fail", a reply it cannot read fails the pending request', async () => {
    await serve((_r, reply) => reply('this is not JSON'));
    const strict = await client({ unreadableReplies: 'fail' });
    await expect(strict.request('hello')).rejects.toThrow(/malformed reply from agent: this is not JSON/);
  });

  it('by default keeps unreadable lines aside', async () => {
    await serve((r, reply) => {
      reply('this is not JSON');
      echo(r, reply);
    });
    const c = await client();
    expect(await c.request('hello')).toMatchObject({ status: 'OK' });
    expect(c.unreadable).toEqual(['this is not JSON']);
  });

  it('cannot connect where nothing listens: AgentUnavailable at once with one attempt', async () => {
    await expect(AgentClient.connect(path, { connectTimeoutMs: 0 })).rejects.toThrow(AgentUnavailable);
  });
});
