import { closeSync, constants, fstatSync, openSync, type Stats, statSync } from 'node:fs';
import { type FileHandle, open, statfs } from 'node:fs/promises';
import { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { isatty, ReadStream } from 'node:tty';
import { CldFrameSplitter } from '#cld';
import { AgentLog, errorText } from '../core/log';
import type { CldDispatcher } from './cld-dispatch';
import { PipeDirWatch } from './pipe-dir-watch';

/** statfs f_type of rpc_pipefs (RPCAUTH_GSSMAGIC): there, one read() is exactly one upcall. */
const RPC_PIPEFS_MAGIC = 0x67596969;
const READ_SIZE = 4096;

/** auto: rpc_pipefs keeps message boundaries, anything else is a byte stream; or force one. */
export type PipeMode = 'auto' | 'messages' | 'stream';

type Send = (frame: Buffer) => Promise<void>;

/**
 * The cld pipe as nfsdcld uses it (`<rpc_pipefs>/nfsd/cld`): opened read-write and
 * non-blocking, polled by the event loop (as nfsdcld polls it with libevent); each read() is one
 * upcall and each downcall is one write(). A blocking read would sit in libuv's thread pool,
 * which the process then cannot exit past. When nfsd is not running the pipe does not exist;
 * nfsd creates it at each start and waits only ~500 ms for a reader before falling back to the
 * usermode helper, and unlinks it when it stops: so the directory is watched (PipeDirWatch) and
 * the pipe opened the moment it appears, and reopened whenever the one being served is replaced.
 *
 * Off rpc_pipefs (tests, simulators) the path is read as a byte stream and cut into frames by
 * cm_vers: a pty is bidirectional like the real pipe; a FIFO or a regular file is one-way, so
 * their downcalls go to `<path>.reply` when that exists (else they are dropped, with a warning),
 * and a regular file is followed like `tail -f`.
 */
export class CldPipe {
  private stopped = false;
  private closeCurrent?: () => void;
  private watch?: PipeDirWatch;
  readonly done: Promise<void>;
  upcalls = 0;

  private constructor(
    readonly path: string,
    private readonly dispatcher: CldDispatcher,
    private readonly log: AgentLog,
    private readonly mode: PipeMode,
  ) {
    this.done = this.run();
  }

  static start(path: string, dispatcher: CldDispatcher, log: AgentLog, mode: PipeMode = 'auto'): CldPipe {
    return new CldPipe(path, dispatcher, log, mode);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.closeCurrent?.();
    this.watch?.close();
    await this.done;
  }

  private async run(): Promise<void> {
    const watch = new PipeDirWatch(this.path);
    this.watch = watch;
    let announcedMissing = false;
    try {
      while (!this.stopped) {
        const seq = watch.seq;
        let fd: number;
        try {
          // O_NOCTTY: a pty standing in for the pipe must not become our controlling terminal.
          fd = openSync(this.path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn(`cld pipe ${this.path}: ${errorText(err)}`);
          else if (!announcedMissing) this.log.info(`cld pipe ${this.path} does not exist yet (nfsd not started?): watching for it`);
          announcedMissing = true;
          await watch.changedSince(seq);
          continue;
        }
        announcedMissing = false;
        const served = fstatSync(fd);
        const replaced = this.closeWhenReplaced(served, watch);
        try {
          await this.serve(fd);
        } catch (err) {
          if (!this.stopped) this.log.warn(`cld pipe ${this.path}: ${errorText(err)}; reopening`);
        } finally {
          replaced.cancel();
        }
        // The same pipe ended on its own (e.g. a pty's other side closed): wait for a change
        // rather than spin; a pipe that was replaced (nfsd restarted) is opened at once.
        const afterSeq = watch.seq;
        if (!this.stopped && sameFile(served, statOrUndefined(this.path))) await watch.changedSince(afterSeq);
      }
    } finally {
      watch.close();
    }
  }

  /**
   * nfsd unlinks its pipe when it stops and creates a new one when it starts again; the fd we
   * hold then leads nowhere and may never report an error. On every change in the directory,
   * look whether the path still names the file being served; if not, close it to reopen.
   */
  private closeWhenReplaced(served: Stats, watch: PipeDirWatch): { cancel(): void } {
    let cancelled = false;
    void (async () => {
      while (!cancelled && !this.stopped) {
        const seq = watch.seq;
        const now = statOrUndefined(this.path);
        // Until serve() has the stream (closeCurrent), look again at the next change or tick.
        if (!sameFile(served, now) && this.closeCurrent) {
          this.log.info(`cld pipe ${this.path} ${now ? 'was replaced' : 'was removed'} (nfsd stopped or restarted): ${now ? 'reopening' : 'waiting for the next one'}`);
          this.closeCurrent?.();
          return;
        }
        await watch.changedSince(seq);
      }
    })();
    return { cancel: () => { cancelled = true; } };
  }

  private async serve(fd: number): Promise<void> {
    const info = fstatSync(fd);
    const messages = this.mode === 'auto' ? (await statfs(this.path).catch(() => undefined))?.type === RPC_PIPEFS_MAGIC : this.mode === 'messages';
    const framing = { splitter: new CldFrameSplitter() };
    const onBytes = (chunk: Buffer, send: Send) => {
      for (const frame of messages ? [chunk] : this.frames(framing, chunk)) {
        this.upcalls++;
        this.dispatcher.handle(frame, send).catch((err: unknown) => this.log.error(`cld: ${errorText(err)}`));
      }
    };
    if (info.isFile()) {
      closeSync(fd);
      return this.followFile(onBytes);
    }
    const tty = isatty(fd);
    // A FIFO is one-way: our own downcalls written into it would come back as upcalls.
    const replyFile = info.isFIFO() && !messages ? await this.openReplyPath() : undefined;
    const stream = tty ? new ReadStream(fd) : new Socket({ fd, readable: true, writable: true });
    this.log.info(`cld pipe ${this.path} open (${messages ? 'one upcall per read' : 'byte stream'}${info.isFIFO() && !messages ? `, downcalls to ${this.path}.reply` : ''})`);
    const send: Send = replyFile
      ? serialFileWriter(replyFile, this.path, this.log)
      : (frame) => new Promise<void>((resolve) => {
        if (stream.destroyed) return resolve();
        stream.write(frame, (err) => {
          // The kernel refuses a downcall it no longer waits for (e.g. after nfsd restarted).
          if (err) this.log.warn(`cld pipe ${this.path}: downcall failed: ${errorText(err)}`);
          resolve();
        });
      });
    try {
      await new Promise<void>((resolve) => {
        this.closeCurrent = () => stream.destroy();
        stream.on('data', (chunk: Buffer) => onBytes(chunk, send));
        stream.on('error', (err) => {
          this.log.warn(`cld pipe ${this.path}: ${errorText(err)}`);
          stream.destroy();
        });
        stream.on('close', () => resolve());
        stream.on('end', () => stream.destroy()); // nfsd closed the pipe: reopen
      });
    } finally {
      this.closeCurrent = undefined;
      await replyFile?.close().catch(() => undefined);
    }
  }

  /** A regular file never blocks a read: follow it like `tail -f`, answering into `<path>.reply`. */
  private async followFile(onBytes: (chunk: Buffer, send: Send) => void): Promise<void> {
    const fh = await open(this.path, 'r');
    const replyFile = await this.openReplyPath();
    const send = serialFileWriter(replyFile, this.path, this.log);
    const buf = Buffer.alloc(READ_SIZE);
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    this.closeCurrent = stop;
    this.log.info(`cld pipe ${this.path} is a regular file: reading it as a byte stream, downcalls to ${this.path}.reply`);
    try {
      while (!this.stopped) {
        const { bytesRead } = await fh.read(buf, 0, READ_SIZE, null);
        if (bytesRead === 0) await Promise.race([sleep(200), stopped]);
        else onBytes(Buffer.from(buf.subarray(0, bytesRead)), send);
      }
    } finally {
      this.closeCurrent = undefined;
      await fh.close().catch(() => undefined);
      await replyFile?.close().catch(() => undefined);
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
      return await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_NONBLOCK);
    } catch (err) {
      this.log.warn(`cld pipe ${this.path} is one-way and ${path} cannot be opened (${errorText(err)}): downcalls are dropped`);
      return undefined;
    }
  }
}

/** One write() per downcall, in order. */
function serialFileWriter(fh: FileHandle | undefined, path: string, log: AgentLog): Send {
  let tail: Promise<void> = Promise.resolve();
  return (frame) => {
    if (!fh) return Promise.resolve();
    tail = tail.then(async () => {
      try {
        const { bytesWritten } = await fh.write(frame, 0, frame.length, null);
        if (bytesWritten !== frame.length) log.warn(`cld pipe ${path}: short write ${bytesWritten}/${frame.length}`);
      } catch (err) {
        log.warn(`cld pipe ${path}: downcall failed: ${errorText(err)}`);
      }
    });
    return tail;
  };
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

const sameFile = (a: Stats, b: Stats | undefined) => b !== undefined && a.ino === b.ino && a.dev === b.dev;

