import { connect, Socket } from 'node:net';

/** One reply of the node-agent's JSON socket API (SPEC §4.1). */
export interface AgentReply {
  id?: unknown;
  status: string;
  error?: string;
  [field: string]: unknown;
}

/** What a simulated NFS server needs from its agent: one request, one reply. */
export interface AgentApi {
  request(op: string, fields?: Record<string, unknown>, options?: { timeoutMs?: number }): Promise<AgentReply>;
  close(): Promise<void>;
}

/** The agent could not be reached or went away before it answered. */
export class AgentUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentUnavailable';
  }
}

interface Pending {
  resolve: (reply: AgentReply) => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
}

/**
 * A pipelined JSON-lines client for the agent's Unix socket: many requests in flight on one
 * connection, each reply matched to its request by `id` (replies may come back out of order).
 * When the connection drops (the agent was killed), every pending request fails with
 * `AgentUnavailable` and the next request dials again, so a restarted agent is picked up without
 * the caller doing anything.
 */
export class AgentClient implements AgentApi {
  private socket?: Socket;
  private connecting?: Promise<Socket>;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private buffered = '';
  private closed = false;
  /** Lines that matched no request (e.g. an error about a line that had no id). */
  readonly unmatched: AgentReply[] = [];

  constructor(
    readonly socketPath: string,
    private readonly options: { defaultTimeoutMs?: number; connectTimeoutMs?: number } = {},
  ) {}

  /** Dials now (retrying while the socket is not there yet) instead of on the first request. */
  async connect(): Promise<void> {
    await this.ensureSocket();
  }

  get inFlight(): number {
    return this.pending.size;
  }

  async request(op: string, fields: Record<string, unknown> = {}, options: { timeoutMs?: number } = {}): Promise<AgentReply> {
    if (this.closed) throw new AgentUnavailable('client closed');
    const socket = await this.ensureSocket();
    const id = this.nextId++;
    const line = `${JSON.stringify({ ...fields, id, op })}\n`;
    return new Promise<AgentReply>((resolve, reject) => {
      const entry: Pending = { resolve, reject };
      const timeoutMs = options.timeoutMs ?? this.options.defaultTimeoutMs ?? 15_000;
      entry.timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new AgentUnavailable(`${op} #${id}: no reply from ${this.socketPath} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, entry);
      socket.write(line);
    });
  }

  /** Sends a raw line (for bad-input checks); its reply, if it has no usable id, lands in `unmatched`. */
  async sendRaw(line: string): Promise<void> {
    const socket = await this.ensureSocket();
    socket.write(line.endsWith('\n') ? line : `${line}\n`);
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
        const socket = await once(this.socketPath);
        this.adopt(socket);
        return socket;
      } catch (err) {
        lastError = err;
        if (Date.now() >= deadline) break;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    throw new AgentUnavailable(`cannot reach agent at ${this.socketPath}: ${(lastError as Error)?.message ?? 'closed'}`);
  }

  private adopt(socket: Socket): void {
    this.socket = socket;
    this.buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => this.onData(text));
    const gone = (why: string) => {
      if (this.socket === socket) this.socket = undefined;
      this.failAll(new AgentUnavailable(`agent at ${this.socketPath} ${why}`));
    };
    socket.on('error', (err) => gone(`failed: ${err.message}`));
    socket.on('close', () => gone('closed the connection'));
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
        this.unmatched.push({ status: 'ERR_UNPARSEABLE_REPLY', error: line.slice(0, 200) });
        continue;
      }
      const waiter = typeof reply.id === 'number' ? this.pending.get(reply.id) : undefined;
      if (!waiter) {
        this.unmatched.push(reply);
        continue;
      }
      this.pending.delete(reply.id as number);
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

function once(path: string): Promise<Socket> {
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
