import { constants } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentLog, errorText } from './log';

/**
 * How long to keep retrying while nfsd answers EBUSY and is still in grace (it refuses
 * `v4_end_grace` until its client tracking is up, i.e. while it starts — which is exactly when a
 * cluster-wide grace tends to end): waits double from the first to the cap, and the writer gives
 * up after `attempts` tries.
 */
export interface EndGraceRetry {
  attempts: number;
  firstDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_END_GRACE_RETRY: EndGraceRetry = { attempts: 40, firstDelayMs: 50, maxDelayMs: 1000 };

/** O_WRONLY without O_CREAT, as nfsdcld opens it: a missing file means no nfsd, not "create one". */
const writeYToFile = (path: string) => writeFile(path, 'Y', { flag: constants.O_WRONLY });
/** Reading the file says whether this nfsd is out of grace ("Y") or not ("N"). */
const readEndGrace = (path: string) => readFile(path, 'utf8');

/**
 * Tells the local nfsd that the cluster's grace period is over by writing `Y` to its
 * `v4_end_grace` file, as nfsdcld does. Without nfsd that file does not exist: not an error.
 *
 * EBUSY (Linux 6.1 as Debian ships it) means either that nfsd already left grace (nothing to do;
 * e.g. it skipped grace for want of clients) or that it is still starting: the file then reads
 * `N`, and the write is retried. A retry must never reach the *next* nfsd instance (seen in the
 * VM: an old grace end's late `Y` ended a restarted nfsd's grace before its client reclaimed), so
 * each attempt first asks `stillOver()` whether the cluster is still out of grace.
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
    private readonly readState: (path: string) => Promise<string> = readEndGrace,
  ) {}

  async signal(stillOver: () => boolean = () => true): Promise<void> {
    if (!this.path) return;
    const generation = ++this.generation;
    let delayMs = this.retry.firstDelayMs;
    for (let attempt = 1; ; attempt++) {
      if (!stillOver()) {
        this.log.info(`not writing Y to ${this.path}: a new grace period started (nfsd restarted)`);
        return;
      }
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
        if (code === 'EBUSY' && (await this.alreadyOutOfGrace(this.path))) {
          this.log.info(`cluster grace ended; nfsd is already out of grace (${this.path} reads Y)`);
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

  private async alreadyOutOfGrace(path: string): Promise<boolean> {
    try {
      return (await this.readState(path)).trim() === 'Y';
    } catch {
      return false;
    }
  }
}

