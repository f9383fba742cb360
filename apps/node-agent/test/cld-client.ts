/**
 * Test helper, not a test: the kernel's side of cld on a stream (the agent's cld socket, or a
 * pty standing in for rpc_pipefs). Sends upcalls built by libs/cld and collects downcalls per
 * xid; a GraceStart's -EINPROGRESS replies are gathered until its final status.
 */
import { connect, type Socket } from 'node:net';
import { type CldDowncall, CldFrameSplitter, CldStatus, decodeDowncall } from '#cld';

export interface Exchange {
  /** Every downcall for the xid, raw, in order. */
  frames: Buffer[];
  decoded: CldDowncall[];
}

export class CldStreamClient {
  private readonly waiting = new Map<number, { frames: Buffer[]; resolve: (e: Exchange) => void }>();
  /** Downcalls for no xid we asked about. */
  readonly stray: Buffer[] = [];
  ended = false;

  constructor(private readonly write: (frame: Buffer) => void) {}

  static connect(path: string): Promise<{ client: CldStreamClient; socket: Socket }> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once('error', reject);
      socket.once('connect', () => {
        const client = new CldStreamClient((f) => socket.write(f));
        socket.on('data', (chunk: Buffer) => client.receive(chunk));
        socket.on('close', () => (client.ended = true));
        resolve({ client, socket });
      });
    });
  }

  private readonly splitter = new CldFrameSplitter();

  receive(chunk: Buffer): void {
    const { frames, error } = this.splitter.push(chunk);
    if (error) throw new Error(`downcall stream: ${error.message}`);
    for (const frame of frames) {
      const d = decodeDowncall(frame);
      if (!d.ok) throw new Error(`bad downcall: ${d.error}`);
      const w = this.waiting.get(d.value.xid);
      if (!w) {
        this.stray.push(frame);
        continue;
      }
      w.frames.push(frame);
      if (d.value.status !== CldStatus.EINPROGRESS) {
        this.waiting.delete(d.value.xid);
        w.resolve({ frames: w.frames, decoded: w.frames.map((f) => (decodeDowncall(f) as { ok: true; value: CldDowncall }).value) });
      }
    }
  }

  /** Sends one upcall (its xid must be unique among those in flight) and waits for its final downcall. */
  call(upcall: Buffer, xid: number): Promise<Exchange> {
    return new Promise((resolve) => {
      this.waiting.set(xid, { frames: [], resolve });
      this.write(upcall);
    });
  }
}
