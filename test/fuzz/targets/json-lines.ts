import fc from 'fast-check';
import { type AgentReply, type AnyRequest, OP_NAMES } from '#contracts';
import type { AgentService } from '../../../apps/node-agent/src/core/agent-service';
import { silentLog } from '../../../apps/node-agent/src/core/log';
import { answer, MAX_LINE_BYTES, replyLine } from '../../../apps/node-agent/src/transports/json-socket';
import { LineSplitter } from '../../../apps/node-agent/src/transports/line-splitter';
import { expectThat, type FuzzTarget } from '../harness';
import { chunked, concat, jsonText, mutatedBytes, mutatedJson } from '../mutators';

/**
 * The node-agent's JSON-lines API as its socket handles it: bytes cut into bounded lines, each
 * line parsed and validated (libs/contracts' agent protocol) and answered, each reply written as
 * one line. The service behind it only records what reached it: whatever a line holds, the
 * service gets a valid request or nothing, and every reply is one parseable line echoing a
 * usable id.
 */
const hex = 'ab'.repeat(16);
const REQUESTS: unknown[] = [
  { id: 1, op: 'hello' },
  { id: 'r-2', op: 'grace_start', graceStart: 1_700_000_000, liftIfDone: true },
  { id: 3, op: 'create', client: hex, principalHash: 'cd'.repeat(32), hasSession: true, liftIfDone: false },
  { id: 4, op: 'remove', client: hex },
  { id: 5, op: 'check', client: hex, hasSession: false, reclaim: true },
  { id: 6, op: 'reclaim', client: 'ab'.repeat(1024) },
  { id: 7, op: 'reclaim_complete', client: hex, hasSession: true },
  { id: 8, op: 'grace_done', wait: true },
  { op: 'may_grant' },
  { id: -0.5, op: 'status' },
];

/** A service that accepts anything and checks that only valid requests reach it. */
const service = {
  async handle(request: AnyRequest): Promise<AgentReply> {
    expectThat(OP_NAMES.includes(request.op), `only a known op reaches the service (got ${String(request.op)})`);
    return { status: 'OK', echoed: request.op };
  },
} as unknown as AgentService;

const line = fc.oneof(
  { weight: 30, arbitrary: mutatedJson(REQUESTS).map((v) => Buffer.from(jsonText(v))) },
  { weight: 15, arbitrary: mutatedBytes(REQUESTS.map((r) => Buffer.from(JSON.stringify(r)))) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: MAX_LINE_BYTES * 2 }).map((n) => Buffer.from(`{"op":"hello","id":"${'x'.repeat(n)}"}`)) },
);

export const jsonLines: FuzzTarget<Uint8Array[]> = {
  name: 'json-lines',
  covers: ['apps/node-agent/src/transports/', 'libs/contracts/src/'],
  interface: 'the node-agent\'s JSON-lines socket (LineSplitter, answer, replyLine; libs/contracts agent protocol)',
  arbitrary: chunked(fc.array(line, { minLength: 1, maxLength: 4 }).map((lines) => concat(lines.flatMap((l) => [l, Buffer.from('\n')])))),
  async check(chunks) {
    const splitter = new LineSplitter(MAX_LINE_BYTES);
    for (const chunk of chunks) {
      const { lines } = splitter.push(Buffer.from(chunk));
      for (const text of lines) {
        expectThat(Buffer.byteLength(text) <= MAX_LINE_BYTES * 3, 'a line is bounded (UTF-8 replacement may triple it)');
        if (text.trim() === '') continue;
        const reply = await answer(text, service, silentLog);
        const written = replyLine(reply);
        expectThat(written.endsWith('\n') && written.indexOf('\n') === written.length - 1, 'a reply is exactly one line');
        expectThat(written.length <= 16 * 1024, `a reply is small (${written.length} characters)`);
        const parsed = JSON.parse(written) as AgentReply;
        expectThat(parsed.id === null || typeof parsed.id === 'string' || typeof parsed.id === 'number', 'the echoed id is null, a string or a number');
        expectThat(typeof parsed.status === 'string', 'a reply has a status');
      }
    }
  },
};
