/**
 * The one client of the node-agent's JSON-lines socket (SPEC §4.1), for gk-cltrack, the scripts,
 * the benchmarks, the simulator and the tests. gk-cltrack loads it once per kernel upcall, so it
 * loads nothing but node:net at run time (the contract's types are erased at compile time).
 */
import { connect, type Socket } from 'node:net';
import type { AgentReply } from '#contracts';

/** What a caller of the agent needs: one request, one reply. */
export interface AgentApi {
  request(op: string, fields?: Record<string, unknown>, options?: RequestOptions): Promise<AgentReply>;
  close(): Promise<void>;
}

export interface RequestOptions {
  /** How long this request may wait for its reply (default: the client's `defaultTimeoutMs`). */
  timeoutMs?: number;
}

export interface AgentClientOptions {
  /** Default per-request timeout (15 s). */
  defaultTimeoutMs?: number;
  /** How long to keep dialling while the socket is not there yet (10 s; 0 = one attempt). */
  connectTimeoutMs?: number;
  /**
   * A reply line that is not a JSON reply: `keep` records it in `unreadable` and goes on (tests of
   * the agent's output look there); `fail` fails every pending request and drops the connection
   * (gk-cltrack, which must never act on a reply it cannot read).
   */
  unreadableReplies?: 'keep' | 'fail';
}

/** The agent could not be reached, went away, or did not answer in time. */
export class AgentUnavailable extends Error {
  override readonly name = 'AgentUnavailable';
}

interface Pending {
  resolve: (reply: AgentReply) => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
}

/**
 * A pipelined client: many requests in flight on one connection, each reply matched to its
 * request by `id` (the agent may answer out of order). When the connection drops (the agent was
 * killed), every pending request fails with `AgentUnavailable` and the next request dials again,
 * so a restarted agent is picked up without the caller doing anything.
 */
export class AgentClient implements AgentApi {
  private socket?: Socket;
  private connecting?: Promise<Socket>;
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private buffered = '';
  private closed = false;
  /** Replies that matched no request (e.g. an error about a line that had no usable id), in order. */
  readonly unmatched: AgentReply[] = [];
  private unmatchedWaiter?: () => void;
  /** Lines that were not JSON replies (with `unreadableReplies: 'keep'`). */
  readonly unreadable: string[] = [];

  constructor(
    readonly socketPath: string,
    private readonly options: AgentClientOptions = {},
  ) {}

  /** A client already connected (dialling while the socket is not there yet). */
  static async connect(socketPath: string, options: AgentClientOptions = {}): Promise<AgentClient> {
    const client = new AgentClient(socketPath, options);
    await client.connect();
    return client;
  }

  /** Dials now instead of on the first request. */
  async connect(): Promise<void> {
    await this.ensureSocket();
  }

  get inFlight(): number {
    return this.pending.size;
  }

  request(op: string, fields: Record<string, unknown> = {}, options: RequestOptions = {}): Promise<AgentReply> {
    return this.send({ ...fields, op }, options);
  }

  /** Sends one request object as it is; an `id` is added unless it has one (string or number). */
  async send(body: Record<string, unknown>, options: RequestOptions = {}): Promise<AgentReply> {
    if (this.closed) throw new AgentUnavailable('client closed');
    const socket = await this.ensureSocket();
    const id = body.id ?? this.nextId++;
    const key = idKey(id);
    const line = `${JSON.stringify({ ...body, id })}\n`;
    return new Promise<AgentReply>((resolve, reject) => {
      const entry: Pending = { resolve, reject };
      const timeoutMs = options.timeoutMs ?? this.options.defaultTimeoutMs ?? 15_000;
      entry.timer = setTimeout(() => {
        this.pending.delete(key);
        reject(new AgentUnavailable(`${String(body.op)} #${String(id)}: no reply from ${this.socketPath} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(key, entry);
      socket.write(line);
    });
  }

  /** Sends raw bytes (bad-input checks) and waits for `count` replies that match no request. */
  async raw(data: string | Buffer, count = 1): Promise<AgentReply[]> {
    const socket = await this.ensureSocket();
    const start = this.unmatched.length;
    socket.write(data);
    while (this.unmatched.length < start + count) {
      if (!this.socket) throw new AgentUnavailable(`agent at ${this.socketPath} closed the connection`);
      await new Promise<void>((r) => (this.unmatchedWaiter = r));
    }
    return this.unmatched.slice(start, start + count);
  }

  /** Calls `listener` once the current connection ends (at once if there is none). */
  onceDisconnected(listener: () => void): void {
    if (!this.socket || this.socket.destroyed) listener();
    else this.socket.once('close', listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new AgentUnavailable('client closed'));
    this.socket?.destroy();
    this.socket = undefined;
  }

  private ensureSocket(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    this.connecting ??= this.dial().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async dial(): Promise<Socket> {
    const deadline = Date.now() + (this.options.connectTimeoutMs ?? 10_000);
    let lastError: unknown;
    while (!this.closed) {
      try {
        const socket = await dialOnce(this.socketPath);
        this.adopt(socket);
        return socket;
      } catch (err) {
        lastError = err;
        if (Date.now() >= deadline) break;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    throw new AgentUnavailable(`cannot reach the node-agent at ${this.socketPath}: ${(lastError as Error | undefined)?.message ?? 'client closed'}`);
  }

  private adopt(socket: Socket): void {
    this.socket = socket;
    this.buffered = '';
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    socket.on('data', (text: string) => this.onData(socket, text));
    const gone = (why: string) => {
      if (this.socket === socket) this.socket = undefined;
      this.failAll(new AgentUnavailable(`agent at ${this.socketPath} ${why}`));
      this.unmatchedWaiter?.();
    };
    socket.on('error', (err) => gone(`failed: ${err.message}`));
    socket.on('close', () => gone('closed the connection'));
  }

  private onData(socket: Socket, text: string): void {
    this.buffered += text;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      if (line.trim() === '') continue;
      const reply = readReply(line);
      if (!reply) {
        if (this.options.unreadableReplies === 'fail') {
          this.failAll(new AgentUnavailable(`malformed reply from agent: ${line.slice(0, 200)}`));
          socket.destroy();
          return;
        }
        this.unreadable.push(line);
        continue;
      }
      const key = reply.id === undefined || reply.id === null ? undefined : idKey(reply.id);
      const waiter = key === undefined ? undefined : this.pending.get(key);
      if (!waiter) {
        this.unmatched.push(reply);
        this.unmatchedWaiter?.();
        continue;
      }
      this.pending.delete(key!);
      clearTimeout(waiter.timer);
      waiter.resolve(reply);
    }
  }

  private failAll(err: Error): void {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const p of waiting) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }
}

/** Ids of either type share one map: `7` and `"7"` are different requests. */
const idKey = (id: unknown) => `${typeof id}:${String(id)}`;

function readReply(line: string): AgentReply | undefined {
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value === 'object' && value !== null && typeof (value as AgentReply).status === 'string') return value as AgentReply;
  } catch {
    // not JSON
  }
  return undefined;
}

function dialOnce(path: string): Promise<Socket> {
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
