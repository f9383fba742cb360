import { connect, Socket } from 'node:net';

/** One reply line of the node-agent's JSON socket API (SPEC §4.1). */
export interface AgentReply {
  id?: unknown;
  status: string;
  error?: string;
  [field: string]: unknown;
}

interface Pending {
  resolve: (reply: AgentReply) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * A pipelined JSON-lines client of a node-agent's socket, for `npm start`, the demo and the
 * benchmarks: many requests in flight on one connection, each reply matched by `id` (replies may
 * come out of order). Kept here rather than borrowed from the simulator so that the scripts build
 * without the test tree.
 */
export class AgentSocketClient {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private buffered = '';
  private failure?: Error;

  private constructor(readonly path: string, private readonly socket: Socket, private readonly timeoutMs: number) {
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    socket.on('data', (text: string) => this.onData(text));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error(`${path} closed the connection`)));
  }

  /** Connects, retrying while the socket does not exist yet (an agent that is still starting). */
  static async connect(path: string, options: { timeoutMs?: number; connectTimeoutMs?: number } = {}): Promise<AgentSocketClient> {
    const deadline = Date.now() + (options.connectTimeoutMs ?? 0);
    for (;;) {
      try {
        const socket = await dial(path);
        return new AgentSocketClient(path, socket, options.timeoutMs ?? 30_000);
      } catch (err) {
        if (Date.now() >= deadline) throw new Error(`cannot reach the node-agent at ${path}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  get inFlight(): number {
    return this.pending.size;
  }

  request(op: string, fields: Record<string, unknown> = {}, timeoutMs = this.timeoutMs): Promise<AgentReply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<AgentReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${op}: no reply from ${this.path} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.write(`${JSON.stringify({ ...fields, id, op })}\n`);
    });
  }

  close(): void {
    this.fail(new Error('client closed'));
    this.socket.destroy();
  }

  private onData(text: string): void {
    this.buffered += text;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      if (line.trim() === '') continue;
      let reply: AgentReply;
      try {
        reply = JSON.parse(line) as AgentReply;
      } catch {
        continue; // not ours to judge here; the agent's own tests check its output
      }
      const waiter = typeof reply.id === 'number' ? this.pending.get(reply.id) : undefined;
      if (!waiter) continue;
      this.pending.delete(reply.id as number);
      clearTimeout(waiter.timer);
      waiter.resolve(reply);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(this.failure);
    }
    this.pending.clear();
  }
}

function dial(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const fail = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.off('error', fail);
      resolve(socket);
    });
  });
}

/** A client id as the agent wants it: lowercase hex of an owner string. */
export function clientHex(owner: string): string {
  return Buffer.from(owner, 'utf8').toString('hex');
}
