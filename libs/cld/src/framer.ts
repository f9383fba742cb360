import { cldMessageSize } from './constants';

/**
 * Cuts the byte stream of a Unix stream socket into cld messages that travel back to back,
 * unchanged, as on the rpc_pipefs pipe. Stream reads may split or join messages anywhere.
 *
 * The size of each frame is decided per message from its first byte (cm_vers), not once per
 * connection: one nfsd session mixes sizes, since the kernel sends GetVersion with its v1
 * operations (1034 bytes) and only then switches to v2 (1067 bytes). Replies echo cm_vers, so
 * the same splitter reads both directions. A cm_vers we cannot size leaves no way to find the
 * next frame boundary: the splitter then stops for good and the connection must be closed.
 */
export class CldFrameSplitter {
  /** Unconsumed input, kept as received so tiny reads cost no repeated concatenation. */
  private chunks: Buffer[] = [];
  private buffered = 0;
  private consumed = 0;
  private failure: CldFramingError | null = null;

  /** Feeds bytes; returns every frame completed by them, or the error that stopped the stream. */
  push(chunk: Uint8Array): CldFrames {
    if (this.failure) return { frames: [], error: this.failure };
    if (chunk.length > 0) {
      this.chunks.push(Buffer.from(chunk)); // a copy: socket readers may reuse their buffers
      this.buffered += chunk.length;
    }
    const frames: Buffer[] = [];
    while (this.buffered > 0) {
      const version = this.chunks[0]![0]!;
      const size = cldMessageSize(version);
      if (size === undefined) {
        this.failure = {
          kind: 'unsupported-version',
          version,
          offset: this.consumed,
          message: `cld frame at byte ${this.consumed} has unsupported version ${version}; cannot find frame boundaries`,
        };
        this.chunks = [];
        this.buffered = 0;
        return { frames, error: this.failure };
      }
      if (this.buffered < size) break;
      frames.push(this.take(size));
    }
    return { frames, error: null };
  }

  /** Bytes of an incomplete frame waiting for more input. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Call at end of stream: a partial frame left over is reported (it can never be answered). */
  end(): CldFramingError | null {
    if (this.failure) return this.failure;
    if (this.buffered === 0) return null;
    return {
      kind: 'truncated-at-eof',
      version: this.chunks[0]![0]!,
      offset: this.consumed,
      message: `stream ended inside a cld frame (${this.buffered} bytes buffered)`,
    };
  }

  private take(size: number): Buffer {
    const frame = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const head = this.chunks[0]!;
      const n = Math.min(head.length, size - filled);
      head.copy(frame, filled, 0, n);
      filled += n;
      if (n === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(n);
    }
    this.buffered -= size;
    this.consumed += size;
    return frame;
  }
}

export interface CldFrames {
  frames: Buffer[];
  error: CldFramingError | null;
}

export interface CldFramingError {
  kind: 'unsupported-version' | 'truncated-at-eof';
  /** cm_vers of the frame that could not be read. */
  version: number;
  /** Stream offset where that frame began. */
  offset: number;
  message: string;
}
