import type { Admission } from '#cluster-store';

/** Raised when an operation outlived the agent's request timeout. */
export class RequestTimeout extends Error {
  override readonly name = 'RequestTimeout';
  constructor(readonly ms: number, what: string) {
    super(`${what}: no answer from the event store within ${ms} ms`);
  }
}

/**
 * One request's deadline, handed to every command the request submits (issue 10 item 6: a
 * request answered "retry later" is never decided afterwards). When it passes, commands still
 * queued in the group committer are withdrawn, and no new one is submitted; a command already
 * offered to the store is waited for, so its request is answered its real outcome.
 */
export class RequestDeadline {
  private readonly controller = new AbortController();
  private inFlight = 0;
  private onIdle?: () => void;

  constructor(readonly ms: number, readonly what: string) {}

  get expired(): boolean {
    return this.controller.signal.aborted;
  }

  /** Submits one command under this deadline: `submit` gets the committer's admission. */
  async track<T>(submit: (admission: Admission) => Promise<T>): Promise<T> {
    if (this.expired) throw this.controller.signal.reason;
    let started = false;
    try {
      return await submit({
        signal: this.controller.signal,
        onStart: () => {
          started = true;
          this.inFlight++;
        },
      });
    } finally {
      if (started && --this.inFlight === 0) this.onIdle?.();
    }
  }

  /** The deadline passed: withdraw what is queued; `idle` runs once nothing is in flight. */
  expire(idle: () => void): void {
    this.controller.abort(new RequestTimeout(this.ms, this.what));
    if (this.inFlight === 0) idle();
    else this.onIdle = idle;
  }
}

/**
 * Runs `work` under a deadline of `ms`. At the deadline, if nothing of the request is in flight,
 * the answer is RequestTimeout ("retry later"): its queued commands were withdrawn and whatever
 * it still waits for (a read) has no effect. If a command is in flight, the request waits for it;
 * once it settled, the work either finishes with its real outcome or, should it go on waiting
 * for something else, gets RequestTimeout (it can submit nothing more).
 */
export function withDeadline<T>(ms: number, what: string, work: (deadline: RequestDeadline) => Promise<T>): Promise<T> {
  const deadline = new RequestDeadline(ms, what);
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      // setImmediate: a command that just settled first lets the work finish with its outcome.
      deadline.expire(() => setImmediate(() => reject(new RequestTimeout(ms, what))));
    }, ms);
    work(deadline).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
