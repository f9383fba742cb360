import type { Socket } from 'node:net';

/**
 * Flow control of the agent's sockets (issue 10 item 1): no client can make the agent hold an
 * unbounded number of requests or replies.
 *
 * - Per connection: at `perConnection` requests in flight the agent stops reading that
 *   connection (the client's own writes then block: backpressure a pipelining client expects);
 *   requests already read in the same chunk are still served, so the overshoot is one read.
 * - Replies a client does not read pile up in the socket's write buffer: past `maxBufferedBytes`
 *   the agent stops reading that connection until the buffer drains ('drain').
 * - Across connections: an `InFlightBudget` caps the requests the agent works on at once; a JSON
 *   request over it is answered NFS4ERR_DELAY at once (see docs/node-agent.md for why cld does not
 *   answer an error there).
 */
export interface FlowLimits {
  perConnection: number;
  maxBufferedBytes: number;
}

export const DEFAULT_FLOW_LIMITS: FlowLimits = { perConnection: 4096, maxBufferedBytes: 1024 * 1024 };
/** Requests the agent works on at once across all JSON connections. */
export const DEFAULT_GLOBAL_IN_FLIGHT = 16_384;

/** A count of requests in flight shared by every connection of one listener. */
export class InFlightBudget {
  private used = 0;
  constructor(readonly limit: number) {}

  get inFlight(): number {
    return this.used;
  }

  tryTake(): boolean {
    if (this.used >= this.limit) return false;
    this.used++;
    return true;
  }

  release(): void {
    this.used--;
  }
}

/** One connection's reading, paused while it has too much in flight or too much unread output. */
export class ConnectionFlow {
  private inFlight = 0;
  private paused = false;
  private stopped = false;

  constructor(private readonly socket: Socket, private readonly limits: FlowLimits = DEFAULT_FLOW_LIMITS) {
    socket.on('drain', () => this.update());
  }

  /** One more request read from the connection; at the cap, reading stops until one finishes. */
  started(): void {
    this.inFlight++;
    this.update();
  }

  finished(): void {
    this.inFlight--;
    this.update();
  }

  /**
   * Writes one reply and stops reading if the client is not reading its replies. False when the
   * reply went to the buffer rather than the socket (wait for 'drain' to write more in order).
   */
  write(data: string | Buffer): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return true;
    const flushed = this.socket.write(data);
    this.update();
    return flushed;
  }

  /** Stops reading for good (the connection is being closed). */
  stop(): void {
    this.stopped = true;
    this.socket.pause();
  }

  private update(): void {
    if (this.stopped) return;
    const over = this.inFlight >= this.limits.perConnection || this.socket.writableLength > this.limits.maxBufferedBytes;
    if (over && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!over && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }
}
