import { type FSWatcher, type Stats, statSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';

/** While the directory cannot be watched (not there yet: rpc_pipefs not mounted), look this often. */
const UNWATCHED_POLL_MS = 250;
/** Backstop while inotify watches: a missed event (the directory was remounted) costs at most this. */
const WATCHED_POLL_MS = 1000;

/**
 * Wakes the cld pipe's reader whenever the directory holding the pipe changes, the way nfsdcld
 * puts an inotify watch on `<rpc_pipefs>/nfsd`: nfsd creates `cld` when it starts and waits only
 * about 500 ms for a daemon to open it, and unlinks it when it stops. A slow poll backs the watch
 * up (and replaces it while the directory does not exist, or when it was mounted over).
 *
 * `seq` counts changes; `changedSince(seq)` resolves as soon as a change after `seq` was seen, so
 * a change between looking at the directory and waiting is never lost.
 */
export class PipeDirWatch {
  seq = 0;
  private readonly dir: string;
  private readonly name: string;
  private watcher?: FSWatcher;
  private watchedDir?: Stats;
  private waiters: Array<() => void> = [];
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(pipePath: string) {
    this.dir = dirname(pipePath);
    this.name = basename(pipePath);
    this.tick();
  }

  get watching(): boolean {
    return this.watcher !== undefined;
  }

  changedSince(seq: number): Promise<void> {
    if (this.seq !== seq || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.unwatch();
    this.wake();
  }

  private tick(): void {
    if (this.closed) return;
    this.rewatchIfMoved();
    this.wake();
    this.timer = setTimeout(() => this.tick(), this.watcher ? WATCHED_POLL_MS : UNWATCHED_POLL_MS);
  }

  private wake(): void {
    this.seq++;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** (Re)places the inotify watch when the directory appeared, vanished or was mounted over. */
  private rewatchIfMoved(): void {
    let now: Stats | undefined;
    try {
      now = statSync(this.dir);
    } catch {
      now = undefined;
    }
    const same = now && this.watchedDir && now.ino === this.watchedDir.ino && now.dev === this.watchedDir.dev;
    if (same && this.watcher) return;
    this.unwatch();
    if (!now?.isDirectory()) return;
    try {
      this.watcher = watch(this.dir, { persistent: false }, (_event, filename) => {
        if (!filename || filename.toString() === this.name) this.wake();
      });
      this.watcher.on('error', () => this.unwatch());
      this.watchedDir = now;
    } catch {
      this.unwatch();
    }
  }

  private unwatch(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.watchedDir = undefined;
  }
}
