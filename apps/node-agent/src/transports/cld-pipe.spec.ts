import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLog } from '../core/log';
import type { CldDispatcher } from './cld-dispatch';
import { CldPipe } from './cld-pipe';

/**
 * nfsd's side of the pipe played with FIFOs: nfsd creates `<rpc_pipefs>/nfsd/cld` at each start
 * and gives a reader about 500 ms (else it falls back to the usermode helper), and unlinks it when
 * it stops. A FIFO, like the kernel's pipe, reports whether anyone holds it open: opening it
 * write-only and non-blocking fails with ENXIO until the agent has opened it.
 */
jest.setTimeout(20_000);

/** The kernel's window, with room for a loaded 2-core CI machine (the old back-off took seconds). */
const OPEN_WITHIN_MS = 1000;

let dir: string;
let pipe: CldPipe | undefined;
const upcalls: string[] = [];
const dispatcher = { handle: async (frame: Buffer) => void upcalls.push(frame.toString()) } as unknown as CldDispatcher;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gk-cldpipe-'));
  upcalls.length = 0;
});
afterEach(async () => {
  await pipe?.stop();
  pipe = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const mkfifo = (path: string) => execFileSync('mkfifo', [path]);

/** How long until the agent holds `path` open; fails past `limitMs`. */
async function msUntilOpened(path: string, limitMs = OPEN_WITHIN_MS): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
      return Date.now() - t0;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err;
    }
    if (Date.now() - t0 > limitMs) throw new Error(`${path} not opened by the agent within ${limitMs} ms`);
    await sleep(10);
  }
}

/** One upcall as nfsd would queue it; resolves once the agent has read it. */
async function upcall(path: string, text: string): Promise<void> {
  const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  writeSync(fd, text);
  closeSync(fd);
  const t0 = Date.now();
  while (!upcalls.includes(text)) {
    if (Date.now() - t0 > 5000) throw new Error(`upcall ${text} not read`);
    await sleep(10);
  }
}

describe('CldPipe: opening nfsd\'s pipe in time', () => {
  it('opens a pipe that is already there', async () => {
    const cld = join(dir, 'cld');
    mkfifo(cld);
    pipe = CldPipe.start(cld, dispatcher, silentLog, 'messages');
    await msUntilOpened(cld);
    await upcall(cld, 'first');
  });

  it('opens the pipe within the kernel\'s window when nfsd creates it long after the agent started', async () => {
    const cld = join(dir, 'cld');
    pipe = CldPipe.start(cld, dispatcher, silentLog, 'messages');
    await sleep(2000); // a polling back-off would have grown past the window by now
    mkfifo(cld);
    await msUntilOpened(cld);
    await upcall(cld, 'late');
  });

  it('serves the new pipe after every nfsd restart (old pipe unlinked, new one created)', async () => {
    const cld = join(dir, 'cld');
    mkfifo(cld);
    pipe = CldPipe.start(cld, dispatcher, silentLog, 'messages');
    await msUntilOpened(cld);
    for (const round of [1, 2, 3]) {
      rmSync(cld); // nfsd stops
      await sleep(round * 300);
      mkfifo(cld); // nfsd starts again
      await msUntilOpened(cld);
      await upcall(cld, `restart ${round}`);
    }
  });

  it('serves a pipe replaced at once (unlink and create in one go)', async () => {
    const cld = join(dir, 'cld');
    mkfifo(cld);
    pipe = CldPipe.start(cld, dispatcher, silentLog, 'messages');
    await msUntilOpened(cld);
    rmSync(cld);
    mkfifo(cld);
    await msUntilOpened(cld);
    await upcall(cld, 'swapped');
  });

  it('finds the pipe when its directory (rpc_pipefs) appears only later', async () => {
    const nfsdDir = join(dir, 'rpc_pipefs', 'nfsd');
    const cld = join(nfsdDir, 'cld');
    pipe = CldPipe.start(cld, dispatcher, silentLog, 'messages');
    await sleep(600);
    mkdirSync(nfsdDir, { recursive: true });
    await sleep(400); // the directory is noticed by a poll; the pipe then by the watch
    mkfifo(cld);
    await msUntilOpened(cld);
    await upcall(cld, 'mounted');
  });

  it('stops promptly while waiting for a pipe', async () => {
    pipe = CldPipe.start(join(dir, 'cld'), dispatcher, silentLog, 'messages');
    await sleep(100);
    const t0 = Date.now();
    await pipe.stop();
    expect(Date.now() - t0).toBeLessThan(500);
  });
});
