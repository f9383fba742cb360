/**
 * libs/cld against the reference daemon: Debian's nfsdcld answers upcalls through a raw pty
 * standing in for rpc_pipefs, and every downcall it writes must equal, byte for byte, the one
 * libs/cld builds for the same upcall and outcome. Only v2 messages: nfsdcld reads
 * sizeof(cld_msg_v2) per message, which a pty (unlike rpc_pipefs) does not cut at 1034 bytes.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findNfsdcld } from '#testing';
import {
  CldFrameSplitter,
  type CldCommandName,
  type CldDowncall,
  CldStatus,
  decodeDowncall,
  decodeRequest,
  encodeErrorReply,
  encodeReply,
  encodeUpcall,
  GraceStartReplies,
} from './index';

jest.setTimeout(60_000);
const RELAY = resolve(__dirname, '..', '..', 'testing', 'pty-relay.py');

/** nfsdcld behind the relay; downcalls come out of a CldFrameSplitter. */
class NfsdcldPeer {
  private readonly frames: Buffer[] = [];
  private waiting: ((frame: Buffer) => void) | null = null;
  private failure: Error | null = null;

  constructor(
    private readonly relay: ChildProcessWithoutNullStreams,
    readonly work: string,
  ) {
    const splitter = new CldFrameSplitter();
    relay.stdout.on('data', (chunk: Buffer) => {
      const { frames, error } = splitter.push(chunk);
      if (error) this.failure = new Error(`nfsdcld output: ${error.message}`);
      for (const f of frames) this.deliver(f);
    });
  }

  static start(nfsdcld: string): NfsdcldPeer {
    const work = mkdtempSync(join(tmpdir(), 'gk-nfsdcld-'));
    mkdirSync(join(work, 'store'));
    const command = [nfsdcld, '-F', '-p', join(work, 'pipefs'), '-s', join(work, 'store')];
    return new NfsdcldPeer(spawn('python3', [RELAY, join(work, 'pipefs', 'nfsd', 'cld'), '--log', join(work, 'nfsdcld.log'), '--', ...command]), work);
  }

  async call(upcall: Buffer): Promise<Buffer[]> {
    this.relay.stdin.write(upcall);
    const replies = [await this.next()];
    // GraceStart streams one -EINPROGRESS reply per client before its final status.
    while (downcall(replies.at(-1)!).status === CldStatus.EINPROGRESS) replies.push(await this.next());
    return replies;
  }

  async stop(): Promise<void> {
    const exited = new Promise((r) => this.relay.once('exit', r));
    this.relay.stdin.end();
    await exited;
    rmSync(this.work, { recursive: true, force: true });
  }

  private next(): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    const ready = this.frames.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolveFrame, reject) => {
      const timer = setTimeout(() => reject(new Error('nfsdcld did not answer within 10 s')), 10_000);
      this.waiting = (frame) => {
        clearTimeout(timer);
        resolveFrame(frame);
      };
    });
  }

  private deliver(frame: Buffer): void {
    const waiter = this.waiting;
    this.waiting = null;
    if (waiter) waiter(frame);
    else this.frames.push(frame);
  }
}

function downcall(bytes: Buffer): CldDowncall {
  const d = decodeDowncall(bytes);
  if (!d.ok) throw new Error(`nfsdcld wrote a bad downcall: ${d.error}`);
  return d.value;
}

/** What libs/cld sends for this upcall, given the outcome nfsdcld reported (status, clients). */
function ourReplies(upcall: Buffer, theirs: Buffer[]): Buffer[] {
  const decoded = decodeRequest(upcall);
  if (!decoded.ok) {
    if (!decoded.error.replyable) throw new Error('test upcalls are always replyable');
    return [encodeErrorReply(decoded.error)];
  }
  const req = decoded.value;
  if (req.cmd === 'GetVersion') return [encodeReply(req, { kind: 'version' })];
  const outcome = theirs.map(downcall);
  if (req.cmd === 'GraceStart') {
    const stream = new GraceStartReplies(req);
    return outcome.map((d) => (d.status === CldStatus.EINPROGRESS ? stream.client(d.name!, d.principalHash) : stream.end(d.status)));
  }
  return [encodeReply(req, { kind: 'status', status: outcome[0]!.status })];
}

const HASH = Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7));
let xid = 100;
const upcall = (cmd: CldCommandName | number, name?: string, principalHash?: Buffer) =>
  encodeUpcall({ version: 2, cmd, xid: xid++, ...(name === undefined ? {} : { name: Buffer.from(name) }), principalHash });

describe('libs/cld replies match nfsdcld byte for byte', () => {
  let peer: NfsdcldPeer;
  beforeAll(() => {
    const where = findNfsdcld();
    if ('skipReason' in where) throw new Error(`nfsdcld is not available: ${where.skipReason}`);
    if (spawnSync('python3', ['--version']).status !== 0) throw new Error('python3 (for the pty relay) is not installed');
    peer = NfsdcldPeer.start(where.path);
  });
  afterAll(async () => {
    await peer?.stop();
  });

  const steps: Array<[string, () => Buffer, number]> = [
    ['GetVersion', () => upcall('GetVersion'), 1],
    ['GraceStart with no clients', () => upcall('GraceStart'), 1],
    ['Create with a principal hash', () => upcall('Create', 'client-one.example.org', HASH), 1],
    ['Create without principal', () => upcall('Create', 'client-two'), 1],
    ['Create of a 1024-byte name', () => upcall('Create', 'x'.repeat(1024)), 1],
    ['Check', () => upcall('Check', 'client-one.example.org'), 1],
    ['Remove', () => upcall('Remove', 'client-two'), 1],
    ['an unknown command', () => upcall(9, 'client-one.example.org'), 1],
    ['GraceDone', () => upcall('GraceDone'), 1],
    ['GraceStart streaming the recorded clients', () => upcall('GraceStart'), 3],
    ['GraceDone after reclaims', () => upcall('GraceDone'), 1],
  ];

  it.each(steps)('%s', async (_label, build, replyCount) => {
    const request = build();
    const theirs = await peer.call(request);
    expect(theirs).toHaveLength(replyCount);
    const ours = ourReplies(request, theirs);
    expect(ours.map((b) => b.toString('hex'))).toEqual(theirs.map((b) => b.toString('hex')));
  });
});
