import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentReply } from '#contracts';
import type { AgentService } from '../core/agent-service';
import { silentLog } from '../core/log';
import { encodeUpcall } from '#cld';
import { CldDispatcher } from './cld-dispatch';
import { listenCldSocket } from './cld-socket';
import { listenJsonSocket } from './json-socket';

/**
 * The JSON socket's caps and backpressure (issue 10 item 1). The agent's service is replaced by a
 * stand-in whose answers the test releases, so that "in flight" is under the test's control; the
 * socket, the line splitting and the flow control are the real ones.
 */
class HeldService {
  handled = 0;
  private held: Array<() => void> = [];
  constructor(private readonly reply: AgentReply = { status: 'OK' }, private readonly hold = true) {}
  handle(): Promise<AgentReply> {
    this.handled++;
    if (!this.hold) return Promise.resolve(this.reply);
    return new Promise((resolve) => this.held.push(() => resolve(this.reply)));
  }
  releaseAll(): void {
    for (const r of this.held.splice(0)) r();
  }
  /** No client to reclaim: a cld Create stays a create. */
  reclaimable(): { client: string }[] {
    return [];
  }
}

const dir = mkdtempSync(join(tmpdir(), 'gk-flow-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function lines(socket: Socket): { got: () => AgentReply[] } {
  let buffer = '';
  const replies: AgentReply[] = [];
  socket.on('data', (d: Buffer) => {
    buffer += d.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      replies.push(JSON.parse(buffer.slice(0, nl)) as AgentReply);
      buffer = buffer.slice(nl + 1);
    }
  });
  return { got: () => replies };
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const open = (path: string) => new Promise<Socket>((resolve, reject) => {
  const s = connect(path, () => resolve(s));
  s.once('error', reject);
});

describe('JSON socket flow control', () => {
  it('stops reading a connection at its in-flight cap, and answers NFS4ERR_DELAY over the global cap without deciding', async () => {
    const service = new HeldService();
    const path = join(dir, 'caps.sock');
    const server = await listenJsonSocket(path, service as unknown as AgentService, silentLog, { limits: { perConnection: 2, global: 3 } });
    const a = await open(path);
    const b = await open(path);
    try {
      const ra = lines(a);
      const rb = lines(b);
      a.write('{"id":1,"op":"hello"}\n{"id":2,"op":"hello"}\n');
      await until(() => service.handled === 2, 'two requests in flight on a');
      a.write('{"id":3,"op":"hello"}\n'); // a is at its cap: not read yet
      b.write('{"id":"x","op":"hello"}\n{"id":"y","op":"hello"}\n');
      await until(() => rb.got().length === 1, 'the refusal on b');
      expect(rb.got()[0]).toMatchObject({ id: 'y', status: 'NFS4ERR_DELAY', error: expect.stringMatching(/the agent/) });
      await new Promise((r) => setTimeout(r, 100));
      expect(service.handled).toBe(3); // 1, 2 and x; neither 3 (unread) nor y (refused)
      expect(ra.got()).toEqual([]);
      service.releaseAll();
      await until(() => service.handled === 4, 'a to be read again');
      service.releaseAll();
      await until(() => ra.got().length === 3 && rb.got().length === 2, 'every reply');
      expect(ra.got().map((r) => r.id).sort()).toEqual([1, 2, 3]);
      expect(ra.got().every((r) => r.status === 'OK')).toBe(true);
    } finally {
      a.destroy();
      b.destroy();
      await server.close();
    }
  });

  it('stops reading a connection whose replies pile up unread, and resumes when they drain', async () => {
    const service = new HeldService({ status: 'OK', error: 'x'.repeat(64 * 1024) }, false);
    const path = join(dir, 'backpressure.sock');
    const server = await listenJsonSocket(path, service as unknown as AgentService, silentLog, { limits: { maxBufferedBytes: 128 * 1024 } });
    const client = await open(path);
    try {
      client.pause(); // a client that does not read its replies
      const request = '{"op":"hello"}\n';
      for (let i = 0; i < 400; i++) client.write(request);
      await new Promise((r) => setTimeout(r, 500));
      const stalled = service.handled;
      // The agent stopped taking requests once the replies it could not deliver passed the limit
      // (the kernel's socket buffers and the paused client's own buffer absorb the first ones).
      expect(stalled).toBeLessThan(400);
      await new Promise((r) => setTimeout(r, 300));
      expect(service.handled).toBe(stalled);
      let received = 0;
      client.on('data', (d: Buffer) => { received += d.length; });
      client.resume();
      await until(() => service.handled === 400, 'every request once the client reads', 20_000);
    } finally {
      client.destroy();
      await server.close();
    }
  });

  it('cld socket: at its in-flight cap the agent stops reading upcalls and never answers one with a busy error', async () => {
    const service = new HeldService();
    const path = join(dir, 'cld.sock');
    const server = await listenCldSocket(path, new CldDispatcher(service as unknown as AgentService, silentLog), silentLog, { limits: { perConnection: 2, maxBufferedBytes: 1024 * 1024 } });
    const kernel = await open(path);
    try {
      let replies = 0;
      kernel.on('data', (d: Buffer) => { replies += d.length; });
      const create = (xid: number) => encodeUpcall({ version: 2, cmd: 'Create', xid, name: Buffer.from(`c${xid}`) });
      kernel.write(Buffer.concat([create(1), create(2)]));
      await until(() => service.handled === 2, 'two upcalls in flight');
      kernel.write(create(3));
      await new Promise((r) => setTimeout(r, 150));
      expect(service.handled).toBe(2); // the third waits in the socket, unread
      expect(replies).toBe(0); // and nothing was refused
      service.releaseAll();
      await until(() => service.handled === 3, 'the third upcall once one finished');
      service.releaseAll();
      await until(() => replies === 3 * create(0).length, 'three replies');
    } finally {
      kernel.destroy();
      await server.close();
    }
  });
});
