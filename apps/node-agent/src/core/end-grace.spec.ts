import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EndGraceWriter } from './end-grace';
import { silentLog } from './log';

const fast = { attempts: 5, firstDelayMs: 1, maxDelayMs: 4 };
const stillInGrace = async () => 'N\n';
const outOfGrace = async () => 'Y\n';
const busy = () => Object.assign(new Error('EBUSY: resource busy or locked, open'), { code: 'EBUSY' });

/** A v4_end_grace that answers EBUSY `times` times (nfsd still starting), then takes the write. */
function busyNfsd(times: number) {
  const calls: string[] = [];
  return {
    calls,
    write: async (path: string) => {
      calls.push(path);
      if (calls.length <= times) throw busy();
    },
  };
}

describe('EndGraceWriter', () => {
  it('writes Y to the file', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gk-eg-')), 'v4_end_grace');
    writeFileSync(file, '');
    const writer = new EndGraceWriter(file, silentLog, fast);
    await writer.signal();
    expect(readFileSync(file, 'utf8')).toBe('Y');
    expect([writer.writes, writer.failures]).toEqual([1, 0]);
  });

  it('does not create the file when nfsd is not running', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gk-eg-')), 'v4_end_grace');
    const writer = new EndGraceWriter(file, silentLog, fast);
    await writer.signal();
    expect(() => readFileSync(file)).toThrow(/ENOENT/);
    expect([writer.writes, writer.failures]).toEqual([0, 0]);
  });

  it('retries while nfsd answers EBUSY, then writes', async () => {
    const nfsd = busyNfsd(3);
    const writer = new EndGraceWriter('/proc/fs/nfsd/v4_end_grace', silentLog, fast, nfsd.write, stillInGrace);
    await writer.signal();
    expect(nfsd.calls).toHaveLength(4);
    expect([writer.writes, writer.failures]).toEqual([1, 0]);
  });

  it('gives up after the bounded number of attempts and counts a failure', async () => {
    const nfsd = busyNfsd(100);
    const writer = new EndGraceWriter('/proc/fs/nfsd/v4_end_grace', silentLog, fast, nfsd.write, stillInGrace);
    await writer.signal();
    expect(nfsd.calls).toHaveLength(fast.attempts);
    expect([writer.writes, writer.failures]).toEqual([0, 1]);
  });

  it('does not retry other errors', async () => {
    const calls: string[] = [];
    const writer = new EndGraceWriter('/x', silentLog, fast, async (p) => {
      calls.push(p);
      throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
    });
    await writer.signal();
    expect(calls).toHaveLength(1);
    expect(writer.failures).toBe(1);
  });

  it('a newer signal supersedes a retry loop still waiting', async () => {
    const nfsd = busyNfsd(2);
    const writer = new EndGraceWriter('/x', silentLog, { attempts: 10, firstDelayMs: 30, maxDelayMs: 30 }, nfsd.write, stillInGrace);
    const first = writer.signal();
    await new Promise((r) => setTimeout(r, 5));
    await Promise.all([first, writer.signal()]);
    expect(writer.writes).toBe(1);
  });

  it('EBUSY from an nfsd already out of grace (it reads Y) is done, not a failure', async () => {
    const nfsd = busyNfsd(100);
    const writer = new EndGraceWriter('/x', silentLog, fast, nfsd.write, outOfGrace);
    await writer.signal();
    expect(nfsd.calls).toHaveLength(1);
    expect([writer.writes, writer.failures]).toEqual([0, 0]);
  });

  it('stops retrying once a new grace period started (the next nfsd instance must not get this Y)', async () => {
    const nfsd = busyNfsd(100);
    let over = true;
    const writer = new EndGraceWriter('/x', silentLog, { attempts: 50, firstDelayMs: 5, maxDelayMs: 5 }, nfsd.write, stillInGrace);
    const done = writer.signal(() => over);
    await new Promise((r) => setTimeout(r, 30));
    over = false;
    await done;
    const tries = nfsd.calls.length;
    expect(tries).toBeGreaterThan(0);
    expect(tries).toBeLessThan(50);
    expect([writer.writes, writer.failures]).toEqual([0, 0]);
  });
});
