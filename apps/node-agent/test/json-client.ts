/**
 * Test helper, not a test: a JSON-lines client of the agent's socket that matches replies to
 * requests by id, so pipelined requests may be answered in any order.
 */
import { connect, type Socket } from 'node:net';

export type Reply = { id: unknown; status: string; [field: string]: unknown };

export class JsonClient {
  private nextId = 1;
  private buffered = '';
  private readonly pending = new Map<unknown, (r: Reply) => void>();
  /** Replies nobody waited for (e.g. errors about lines without an id), in arrival order. */
  readonly unmatched: Reply[] = [];
  private unmatchedWaiter?: () => void;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.buffered += text;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const reply = JSON.parse(this.buffered.slice(0, nl)) as Reply;
        this.buffered = this.buffered.slice(nl + 1);
        const waiter = this.pending.get(reply.id);
        if (waiter && reply.id !== null) {
          this.pending.delete(reply.id);
          waiter(reply);
        } else {
          this.unmatched.push(reply);
          this.unmatchedWaiter?.();
        }
      }
    });
  }

  static open(path: string): Promise<JsonClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once('error', reject);
      socket.once('connect', () => resolve(new JsonClient(socket)));
    });
  }

  request(body: Record<string, unknown>): Promise<Reply> {
    const id = body.id ?? this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.socket.write(`${JSON.stringify({ ...body, id })}\n`);
    });
  }

  /** Sends raw bytes and waits for `count` replies that match no pending request. */
  async raw(data: string | Buffer, count = 1): Promise<Reply[]> {
    const start = this.unmatched.length;
    this.socket.write(data);
    while (this.unmatched.length < start + count) await new Promise<void>((r) => (this.unmatchedWaiter = r));
    return this.unmatched.slice(start, start + count);
  }

  close(): void {
    this.socket.destroy();
  }
}
