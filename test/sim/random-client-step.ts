import type { Rng } from './clock';
import type { LockType } from './dlm';
import type { SimNfsClient } from './nfs-client';

const FILES = ['f0', 'f1'];

/** One random thing a client does: connect, open, lock, unlock, or renew (recovering after STALE_CLIENTID). */
export async function clientStep(c: SimNfsClient, r: Rng): Promise<void> {
  if (!c.established && !c.hasState) {
    await c.connect();
    return;
  }
  const held = [...c.locks.values()].filter((l) => l.belief === 'held');
  const choice = r.next();
  if (choice < 0.15 || c.needsRecovery) {
    const status = await c.renew();
    if (status === 'NFS4ERR_STALE_CLIENTID' || (status === 'OK' && c.needsRecovery)) await c.recover({ retries: 5, retryMs: 20 });
  } else if (choice < 0.3) {
    const file = r.pick(FILES);
    if (!c.opens.has(file)) await c.open(file);
  } else if (choice < 0.75) {
    const files = [...c.opens].filter(([, b]) => b === 'held').map(([f]) => f);
    if (!files.length) {
      await c.open(r.pick(FILES));
      return;
    }
    const start = r.int(0, 7);
    const type: LockType = r.chance(0.7) ? 'write' : 'read';
    await c.lock(r.pick(files), { start, end: start + r.int(1, 3) }, type);
  } else if (held.length) {
    await c.unlock(r.pick(held).lineage);
  } else {
    const status = await c.renew();
    if (status === 'NFS4ERR_STALE_CLIENTID') await c.recover({ retries: 5, retryMs: 20 });
  }
}
