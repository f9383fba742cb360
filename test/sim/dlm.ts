/**
 * The clustered filesystem's lock manager (DLM) shared by every simulated NFS server: byte-range
 * locks with conflict detection. When a server crashes its clients' locks stay here as *orphans*:
 * they still block conflicting locks, but only the reclaim path (`adopt`) can take them back. The
 * restarted server releases the orphans nobody reclaimed once it learns the cluster's grace ended;
 * a node removed for good has its orphans released at once.
 */

export type LockType = 'read' | 'write';

export interface ByteRange {
  /** First byte. */
  start: number;
  /** One past the last byte. */
  end: number;
}

export interface DlmLock extends ByteRange {
  id: number;
  file: string;
  type: LockType;
  client: string;
  server: string;
  /** Set while the owning server is down: the lock waits to be reclaimed. */
  orphaned: boolean;
  /** The server incarnation that granted (or last adopted) the lock. */
  incarnation: number;
}

export type AcquireResult = { ok: true; lock: DlmLock } | { ok: false; conflict: DlmLock };

export const overlaps = (a: ByteRange, b: ByteRange): boolean => a.start < b.end && b.start < a.end;

/** Two locks conflict when they cover a common byte of one file, one is a write, and they belong to different clients. */
export function conflicts(a: { file: string; type: LockType; client: string } & ByteRange, b: { file: string; type: LockType; client: string } & ByteRange): boolean {
  return a.file === b.file && a.client !== b.client && (a.type === 'write' || b.type === 'write') && overlaps(a, b);
}

export class Dlm {
  private readonly locks = new Map<number, DlmLock>();
  private nextId = 1;

  acquire(request: { file: string; type: LockType; client: string; server: string; incarnation: number } & ByteRange): AcquireResult {
    if (!(request.start >= 0 && request.end > request.start)) throw new Error(`bad range ${request.start}-${request.end}`);
    for (const held of this.locks.values()) if (conflicts(held, request)) return { ok: false, conflict: held };
    const lock: DlmLock = { ...request, id: this.nextId++, orphaned: false };
    this.locks.set(lock.id, lock);
    return { ok: true, lock };
  }

  /**
   * The reclaim path: the client takes back its orphaned lock on exactly this range. Without one
   * (it was released), the range is acquired afresh if nothing conflicts: that is what a server
   * would do once the agent said the reclaim is valid, and the checker judges whether it was.
   */
  adopt(request: { file: string; type: LockType; client: string; server: string; incarnation: number } & ByteRange): AcquireResult & { adopted?: boolean } {
    for (const l of this.locks.values()) {
      if (l.orphaned && l.client === request.client && l.server === request.server && l.file === request.file
        && l.type === request.type && l.start === request.start && l.end === request.end) {
        l.orphaned = false;
        l.incarnation = request.incarnation;
        return { ok: true, lock: l, adopted: true };
      }
    }
    return this.acquire(request);
  }

  release(id: number): boolean {
    return this.locks.delete(id);
  }

  /** Lease expiry or client removal: every lock of the client on that server goes, orphans too. */
  releaseClient(server: string, client: string): number {
    return this.releaseWhere((l) => l.server === server && l.client === client);
  }

  /** The server crashed: its clients' locks become orphans. */
  orphanServer(server: string): number {
    let n = 0;
    for (const l of this.locks.values()) if (l.server === server && !l.orphaned) { l.orphaned = true; n++; }
    return n;
  }

  /** Grace ended for a restarted server: orphans from before `incarnation` were not reclaimed in time. */
  releaseOrphansBefore(server: string, incarnation: number): number {
    return this.releaseWhere((l) => l.server === server && l.orphaned && l.incarnation < incarnation);
  }

  /** The node was removed for good: nothing of it can ever be reclaimed. */
  releaseServer(server: string): number {
    return this.releaseWhere((l) => l.server === server);
  }

  get(id: number): DlmLock | undefined {
    return this.locks.get(id);
  }

  all(): DlmLock[] {
    return [...this.locks.values()];
  }

  /** Self-check: no two locks in the table conflict (held or orphaned). */
  conflictingPairs(): [DlmLock, DlmLock][] {
    const all = this.all();
    const pairs: [DlmLock, DlmLock][] = [];
    for (let i = 0; i < all.length; i++) for (let j = i + 1; j < all.length; j++) if (conflicts(all[i], all[j])) pairs.push([all[i], all[j]]);
    return pairs;
  }

  private releaseWhere(pred: (l: DlmLock) => boolean): number {
    let n = 0;
    for (const [id, l] of this.locks) if (pred(l)) { this.locks.delete(id); n++; }
    return n;
  }
}
