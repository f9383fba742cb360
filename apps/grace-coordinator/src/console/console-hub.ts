import type { ServerResponse } from 'node:http';
import type { GkEvent } from '#contracts';
import type { ClusterState } from '#domain';
import { clusterNow } from './cluster-now';
import { GraceTimeline, type TimelinePeriod } from './grace-timeline';

export interface ConsoleHubOptions {
  /** Browser tabs following at once, over all clusters; more are refused (503). */
  maxClients?: number;
  /** A comment line this often keeps proxies from closing an idle stream. */
  heartbeatMs?: number;
  /** Changes are coalesced and sent at most this often: a burst of 10^5 reclaims is a few messages. */
  flushMs?: number;
  /** A client whose unsent output exceeds this is cut off (it reconnects and gets a fresh state). */
  maxBufferedBytes?: number;
  now?: () => number;
}

interface Follower {
  cluster: string;
  res: ServerResponse;
}

interface ClusterFeed {
  timeline: GraceTimeline;
  state?: ClusterState;
  version?: number;
  dirty: boolean;
  changed: Set<TimelinePeriod>;
}

/**
 * Fans the coordinator's live view out to the console's server-sent-event streams. The
 * coordinator already follows each cluster's log (one JetStream subscription per cluster): it
 * calls `applied` for every decision, and this hub keeps the grace timeline and pushes the cluster
 * now to every browser tab following that cluster. No tab opens a consumer of its own.
 */
export class ConsoleHub {
  private readonly feeds = new Map<string, ClusterFeed>();
  private readonly followers = new Set<Follower>();
  private readonly heartbeat: NodeJS.Timeout;
  private flushTimer?: NodeJS.Timeout;
  private readonly o: Required<ConsoleHubOptions>;

  constructor(options: ConsoleHubOptions = {}) {
    this.o = { maxClients: 64, heartbeatMs: 15_000, flushMs: 250, maxBufferedBytes: 1 << 20, now: Date.now, ...options };
    this.heartbeat = setInterval(() => this.each(() => true, ': keep-alive\n\n'), this.o.heartbeatMs);
    this.heartbeat.unref();
  }

  get clientCount(): number {
    return this.followers.size;
  }

  /** A decision was applied to `cluster`'s live view (CoordinatorObserver.applied). */
  applied(cluster: string, events: readonly GkEvent[], state: ClusterState, version?: number): void {
    const feed = this.feed(cluster);
    for (const p of feed.timeline.apply(events)) feed.changed.add(p);
    const adopted = feed.timeline.adopt(state);
    if (adopted) feed.changed.add(adopted);
    feed.state = state;
    feed.version = version;
    feed.dirty = true;
    this.scheduleFlush();
  }

  timeline(cluster: string): readonly TimelinePeriod[] {
    return this.feeds.get(cluster)?.timeline.all ?? [];
  }

  /**
   * Starts streaming `cluster` to `res`: the headers, then `now` (the state at hand) and the whole
   * timeline, then every change. Returns false when the hub is full (nothing was written).
   */
  follow(cluster: string, res: ServerResponse, state: ClusterState | undefined, version: number | undefined): boolean {
    if (this.followers.size >= this.o.maxClients) return false;
    if (state) this.feed(cluster).timeline.adopt(state);
    const follower: Follower = { cluster, res };
    this.followers.add(follower);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no',
      Connection: 'keep-alive',
    });
    res.on('close', () => this.followers.delete(follower));
    // The browser reconnects after 2 s when the stream breaks (a restart, a cut-off).
    this.write(follower, 'retry: 2000\n\n');
    if (state) this.write(follower, message('now', clusterNow(state, version, this.o.now())));
    this.write(follower, message('timeline', this.timeline(cluster)));
    return true;
  }

  close(): void {
    clearInterval(this.heartbeat);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    for (const f of this.followers) f.res.end();
    this.followers.clear();
  }

  private feed(cluster: string): ClusterFeed {
    let feed = this.feeds.get(cluster);
    if (!feed) {
      feed = { timeline: new GraceTimeline(), dirty: false, changed: new Set() };
      this.feeds.set(cluster, feed);
    }
    return feed;
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, this.o.flushMs);
    this.flushTimer.unref();
  }

  private flush(): void {
    for (const [cluster, feed] of this.feeds) {
      if (!feed.dirty) continue;
      feed.dirty = false;
      const periods = [...feed.changed];
      feed.changed.clear();
      if (![...this.followers].some((f) => f.cluster === cluster) || !feed.state) continue;
      // Serialised once for every tab of the cluster.
      let text = message('now', clusterNow(feed.state, feed.version, this.o.now()));
      for (const p of periods) text += message('period', p);
      this.each((f) => f.cluster === cluster, text);
    }
  }

  private each(which: (f: Follower) => boolean, text: string): void {
    for (const f of [...this.followers]) if (which(f)) this.write(f, text);
  }

  /** Writes unless the tab cannot keep up: then it is cut off rather than buffered without bound. */
  private write(f: Follower, text: string): void {
    if (f.res.writableLength > this.o.maxBufferedBytes) {
      this.followers.delete(f);
      f.res.destroy();
      return;
    }
    f.res.write(text);
  }
}

/** One server-sent event; JSON has no raw newlines, so `data:` is one line. */
function message(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
