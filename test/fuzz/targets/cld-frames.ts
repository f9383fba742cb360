import fc from 'fast-check';
import { CLD_HEADER_SIZE, CldFrameSplitter, CldStatus, cldMessageSize, decodeDowncall, decodeRequest, encodeErrorReply, encodeReply, encodeUpcall, type Endianness, GraceStartReplies, OFF_XID, readU32 } from '#cld';
import { expectThat, type FuzzTarget } from '../harness';
import { chunked, concat, mutatedBytes } from '../mutators';

/**
 * cld frames as the agent's cld socket reads them: a byte stream cut into frames by the
 * splitter, each frame decoded, and every decodable or replyable one answered. The answer must
 * always be a frame of the request's own length that the kernel's side decodes with the request's
 * xid; the splitter must never hold more than one frame's worth of input.
 */
const name = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => 0x61 + (i % 26)));
const CORPUS: Uint8Array[] = ([1, 2] as const).flatMap((version) => [
  encodeUpcall({ version, cmd: 'GetVersion', xid: 1 }),
  encodeUpcall({ version, cmd: 'GraceStart', xid: 2 }),
  encodeUpcall({ version, cmd: 'GraceDone', xid: 3, ...(version === 1 ? { graceTime: 1_700_000_000n } : {}) }),
  encodeUpcall({ version, cmd: 'Create', xid: 4, name: name(12), principalHash: Buffer.alloc(32, 7) }),
  encodeUpcall({ version, cmd: 'Check', xid: 5, name: name(1024) }),
  encodeUpcall({ version, cmd: 'Remove', xid: 0xffffffff, name: name(3) }),
]);

const MAX_FRAME = Math.max(cldMessageSize(1)!, cldMessageSize(2)!);

export const cldFrames: FuzzTarget<{ chunks: Uint8Array[]; endianness: Endianness }> = {
  name: 'cld-frames',
  covers: ['libs/cld/src/'],
  interface: 'cld upcalls on the agent\'s cld socket/pipe (libs/cld: CldFrameSplitter, decodeRequest, encodeReply)',
  arbitrary: fc.record({
    chunks: chunked(fc.array(mutatedBytes(CORPUS), { minLength: 1, maxLength: 3 }).map(concat)),
    endianness: fc.constantFrom<Endianness>('LE', 'BE'),
  }),
  check({ chunks, endianness }) {
    const splitter = new CldFrameSplitter();
    const frames: Buffer[] = [];
    let stopped = false;
    for (const chunk of chunks) {
      const { frames: got, error } = splitter.push(chunk);
      frames.push(...got);
      if (error) stopped = true;
      expectThat(splitter.bufferedBytes < MAX_FRAME, `the splitter holds less than one frame (${splitter.bufferedBytes} bytes)`);
    }
    if (!stopped) expectThat(splitter.end() === null || splitter.bufferedBytes > 0, 'end() reports only a partial frame');
    // A pipe read is one message, whatever its length: decode each chunk on its own as well.
    for (const frame of [...frames, ...chunks]) answerOne(Buffer.from(frame), endianness);
  },
};

function answerOne(frame: Buffer, endianness: Endianness): void {
  const decoded = decodeRequest(frame, endianness);
  if (!decoded.ok) {
    if (!decoded.error.replyable) {
      expectThat(frame.length < CLD_HEADER_SIZE, 'only a message shorter than the header is unanswerable');
      return;
    }
    // A frame of an unknown version or length is answered in kind; the kernel never sends one.
    expectReply(frame, encodeErrorReply(decoded.error), decoded.error.status, endianness, false);
    return;
  }
  const request = decoded.value;
  expectThat(request.length === frame.length && request.raw.equals(frame), 'the request keeps its own bytes');
  expectReply(frame, encodeReply(request, { kind: 'status', status: CldStatus.OK }), CldStatus.OK, endianness);
  if (request.cmd === 'GetVersion') expectReply(frame, encodeReply(request, { kind: 'version' }), CldStatus.OK, endianness);
  if (request.cmd === 'GraceStart') {
    const replies = new GraceStartReplies(request);
    expectReply(frame, replies.client(name(40), Buffer.alloc(32, 1)), CldStatus.EINPROGRESS, endianness);
    expectReply(frame, replies.end(), CldStatus.OK, endianness);
  }
  if (request.cmd === 'Create' || request.cmd === 'Check' || request.cmd === 'Remove') {
    expectThat(request.name.length >= 1 && request.name.length <= 1024, 'a decoded client name is 1..1024 bytes');
  }
}

function expectReply(request: Buffer, reply: Buffer, status: number, endianness: Endianness, kernelFrame = true): void {
  expectThat(reply.length === request.length, `the reply has the request's length (${reply.length} vs ${request.length})`);
  const down = decodeDowncall(reply, endianness);
  if (kernelFrame) expectThat(down.ok, `the kernel's side decodes the reply${down.ok ? '' : `: ${down.error}`}`);
  if (down.ok) {
    expectThat(down.value.xid === readU32(request, OFF_XID, endianness), 'the reply echoes the xid');
    expectThat(down.value.status === status, `the reply carries status ${status} (got ${down.value.status})`);
  }
}
