import { constants, type Stats } from 'node:fs';
import { type FileHandle, open, stat, statfs } from 'node:fs/promises';
import { CldFrameSplitter } from '#cld';
import { AgentLog, errorText } from '../core/log';
import type { CldDispatcher } from './cld-dispatch';

/** statfs f_type of rpc_pipefs (RPCAUTH_GSSMAGIC): there, one read() is exactly one upcall. */
const RPC_PIPEFS_MAGIC = 0x67596969;
const READ_SIZE = 4096;

/**
 * The cld pipe as nfsdcld uses it (`<rpc_pipefs>/nfsd/cld`): opened read-write; each read() is
 * one upcall and each downcall is one write(). When nfsd is not running the pipe does not exist;
 * when nfsd stops, reads end: the agent waits and opens it again, without spinning.
 *
 * Off rpc_pipefs (tests, simulators) the path is read as a byte stream and cut into frames by
 * cm_vers: a pty is bidirectional like the real pipe; a FIFO or a regular file is one-way, so
 * their downcalls go to `<path>.reply` when that exists (else they are dropped, with a warning),
 * and a regular file is followed like `tail -f`.
 */
export class CldPipe {
  private stopped = false;
  private handle?: FileHandle;
  readonly done: Promise<void>;
  upcalls = 0;

  private constructor(
    readonly path: string,
    private readonly dispatcher: CldDispatcher,
    private readonly log: AgentLog,
  ) {
    this.done = this.run();
  }

  static start(path: string, dispatcher: CldDispatcher, log: AgentLog): CldPipe {
    return new CldPipe(path, dispatcher, log);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // A read blocked in the kernel is not interrupted by close(); the process exit ends it.
    await this.handle?.close().catch(() => undefined);
  }

  private async run(): Promise<void> {
    let waitMs = 250;
    let announcedMissing = false;
    while (!this.stopped) {
      let info: Stats;
      try {
        info = await stat(this.path);
        this.handle = await open(this.path, constants.O_RDWR);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn(`cld pipe ${this.path}: ${errorText(err)}`);
        else if (!announcedMissing) this.log.info(`cld pipe ${this.path} does not exist yet (nfsd not started?): waiting for it`);
        announcedMissing = true;
        await sleep(waitMs);
        waitMs = Math.min(waitMs * 2, 5000);
        continue;
      }
      announcedMissing = false;
      waitMs = 250;
      try {
        await this.serve(this.handle, info);
      } catch (err) {
        if (!this.stopped) this.log.warn(`cld pipe ${this.path}: ${errorText(err)}; reopening`);
      } finally {
        await this.handle.close().catch(() => undefined);
        this.handle = undefined;
      }
      if (!this.stopped) await sleep(250);
    }
  }

  private async serve(fh: FileHandle, info: Stats): Promise<void> {
    const messages = (await statfs(this.path).catch(() => undefined))?.type === RPC_PIPEFS_MAGIC;
    const oneWay = !messages && (info.isFIFO() || info.isFile());
    const replies = oneWay ? await this.openReplyPath() : fh;
    const send = serialWriter(replies, this.path, this.log);
    const framing = { splitter: new CldFrameSplitter() };
    const buf = Buffer.alloc(READ_SIZE);
    this.log.info(`cld pipe ${this.path} open (${messages ? 'rpc_pipefs: one upcall per read' : 'byte stream'}${oneWay ? `, downcalls to ${this.path}.reply` : ''})`);
    try {
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, READ_SIZE, null);
        if (this.stopped) return;
        if (bytesRead === 0) {
          if (!info.isFile()) return; // the writer went away: reopen
          await sleep(200); // a regular file: wait for more
          continue;
        }
        const chunk = Buffer.from(buf.subarray(0, bytesRead));
        const frames = messages ? [chunk] : this.frames(framing, chunk);
        for (const frame of frames) {
          this.upcalls++;
          this.dispatcher.handle(frame, send).catch((err: unknown) => this.log.error(`cld: ${errorText(err)}`));
        }
      }
    } finally {
      if (replies && replies !== fh) await replies.close().catch(() => undefined);
    }
  }

  private frames(framing: { splitter: CldFrameSplitter }, chunk: Buffer): Buffer[] {
    const { frames, error } = framing.splitter.push(chunk);
    if (error) {
      // Frame boundaries are lost: drop what is buffered and read on (the next upcall realigns).
      this.log.warn(`cld pipe ${this.path}: ${error.message}; discarding buffered bytes`);
      framing.splitter = new CldFrameSplitter();
    }
    return frames;
  }

  private async openReplyPath(): Promise<FileHandle | undefined> {
    const path = `${this.path}.reply`;
    try {
      return await open(path, constants.O_WRONLY | constants.O_APPEND);
    } catch (err) {
      this.log.warn(`cld pipe ${this.path} is one-way and ${path} cannot be opened (${errorText(err)}): downcalls are dropped`);
      return undefined;
    }
  }
}

/** One write() per downcall, in order: concurrent writes could interleave on a stream. */
function serialWriter(fh: FileHandle | undefined, path: string, log: AgentLog): (frame: Buffer) => Promise<void> {
  let tail: Promise<void> = Promise.resolve();
  return (frame) => {
    if (!fh) return Promise.resolve();
    tail = tail.then(async () => {
      try {
        const { bytesWritten } = await fh.write(frame, 0, frame.length, null);
        if (bytesWritten !== frame.length) log.warn(`cld pipe ${path}: short write ${bytesWritten}/${frame.length}`);
      } catch (err) {
        // The kernel refuses a downcall it no longer waits for (e.g. after nfsd restarted).
        log.warn(`cld pipe ${path}: downcall failed: ${errorText(err)}`);
      }
    });
    return tail;
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
