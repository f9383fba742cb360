import { constants } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { AgentLog, errorText } from './log';

/**
 * How long to keep retrying while nfsd answers EBUSY (it refuses `v4_end_grace` while it is
 * starting or stopping, which is exactly when a cluster-wide grace tends to end): waits double
 * from the first to the cap, and the writer gives up after `attempts` tries.
 */
export interface EndGraceRetry {
  attempts: number;
  firstDelayMs: number;
  maxDelayMs: number;
}

/** About 30 s in all: longer than any nfsd start seen under emulation (a few seconds). */
export const DEFAULT_END_GRACE_RETRY: EndGraceRetry = { attempts: 40, firstDelayMs: 50, maxDelayMs: 1000 };

/** O_WRONLY without O_CREAT, as nfsdcld opens it: a missing file means no nfsd, not "create one". */
const writeYToFile = (path: string) => writeFile(path, 'Y', { flag: constants.O_WRONLY });

/**
 * Tells the local nfsd that the cluster's grace period is over by writing `Y` to its
 * `v4_end_grace` file, as nfsdcld does. Without nfsd that file does not exist: not an error.
 */
export class EndGraceWriter {
  writes = 0;
  failures = 0;
  /** Each signal() supersedes a retry loop still waiting from an earlier one. */
  private generation = 0;

  constructor(
    private readonly path: string | undefined,
    private readonly log: AgentLog,
    private readonly retry: EndGraceRetry = DEFAULT_END_GRACE_RETRY,
    /** The one system call, replaceable so that unit tests can play a busy nfsd. */
    private readonly writeY: (path: string) => Promise<void> = writeYToFile,
  ) {}

  async signal(): Promise<void> {
    if (!this.path) return;
    const generation = ++this.generation;
    let delayMs = this.retry.firstDelayMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.writeY(this.path);
        this.writes++;
        this.log.info(`cluster grace ended: wrote Y to ${this.path}${attempt > 1 ? ` (attempt ${attempt})` : ''}`);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          this.log.debug(`cluster grace ended; ${this.path} does not exist (nfsd not running)`);
          return;
        }
        if (code === 'EBUSY' && attempt < this.retry.attempts) {
          if (attempt === 1) this.log.info(`cluster grace ended but ${this.path} is busy (nfsd starting?): retrying`);
          await sleep(delayMs);
          delayMs = Math.min(delayMs * 2, this.retry.maxDelayMs);
          if (generation !== this.generation) return;
          continue;
        }
        this.failures++;
        this.log.error(`cluster grace ended but writing Y to ${this.path} failed after ${attempt} attempt(s): ${errorText(err)}`);
        return;
      }
    }
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
