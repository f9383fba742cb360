import { constants } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { AgentLog, errorText } from './log';

/**
 * Tells the local nfsd that the cluster's grace period is over by writing `Y` to its
 * `v4_end_grace` file, as nfsdcld does. Without nfsd that file does not exist: not an error.
 */
export class EndGraceWriter {
  writes = 0;
  failures = 0;

  constructor(
    private readonly path: string | undefined,
    private readonly log: AgentLog,
  ) {}

  async signal(): Promise<void> {
    if (!this.path) return;
    try {
      // O_WRONLY without O_CREAT, as nfsdcld opens it: a missing file means no nfsd, not "create one".
      await writeFile(this.path, 'Y', { flag: constants.O_WRONLY });
      this.writes++;
      this.log.info(`cluster grace ended: wrote Y to ${this.path}`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.log.debug(`cluster grace ended; ${this.path} does not exist (nfsd not running)`);
        return;
      }
      this.failures++;
      this.log.error(`cluster grace ended but writing Y to ${this.path} failed: ${errorText(err)}`);
    }
  }
}
