import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeAgent } from '#testing';
import { AgentClient, type AgentClientOptions, AgentUnavailable } from './agent-client';

let dir: string;
let path: string;
const agents: FakeAgent[] = [];
const clients: AgentClient[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gk-agent-client-'));
  path = join(dir, 'agent.sock');
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const a of agents.splice(0)) await a.stop();
  rmSync(dir, { recursive: true, force: true });
});
const agent = async () => {
  const a = await FakeAgent.start(path);
  agents.push(a);
  return a;
};
const client = async (options: AgentClientOptions = {}) => {
  const c = await AgentClient.connect(path, { connectTimeoutMs: 0, ...options });
  clients.push(c);
  return c;
};

describe('AgentClient', () => {
  it('matches pipelined replies to their requests by id, in whatever order they come', async () => {
    const a = await agent();
    const held: Array<() => void> = [];
    a.respond = (req) => new Promise((resolve) => {
      held.push(() => resolve({ status: 'OK', op: req.op }));
      if (held.length === 3) for (const answer of held.reverse()) answer();
    });
    const c = await client();
    const replies = await Promise.all(['hello', 'status', 'may_grant'].map((op) => c.request(op)));
    expect(replies.map((r) => r.op)).toEqual(['hello', 'status', 'may_grant']);
  });

  it('sends a body with its own id as it is', async () => {
    await agent();
    const c = await client();
    expect(await c.send({ id: 'mine', op: 'hello' })).toMatchObject({ id: 'mine', status: 'OK' });
  });

  it('hands replies that match no request to raw()', async () => {
    const a = await agent();
    a.respond = () => ({ id: null, status: 'ERR_BAD_REQUEST', error: 'no usable id' });
    const c = await client();
    expect(await c.raw('{"op":"hello"}\n')).toEqual([{ id: null, status: 'ERR_BAD_REQUEST', error: 'no usable id' }]);
  });

  it('fails a request that gets no reply in time with AgentUnavailable, and goes on', async () => {
    const a = await agent();
    a.respond = (req) => (req.op === 'grace_done' ? 'silence' : undefined);
    const c = await client();
    await expect(c.request('grace_done', {}, { timeoutMs: 50 })).rejects.toThrow(AgentUnavailable);
    expect(await c.request('hello')).toMatchObject({ status: 'OK' });
  });

  it('fails pending requests when the agent goes away, and dials again on the next request', async () => {
    const first = await agent();
    first.respond = () => 'silence';
    const c = await client({ connectTimeoutMs: 5000 });
    const pending = c.request('hello');
    await new Promise((r) => setTimeout(r, 20));
    await agents.splice(agents.indexOf(first), 1)[0]!.stop();
    await expect(pending).rejects.toThrow(AgentUnavailable);
    rmSync(path, { force: true });
    await agent();
    expect(await c.request('hello')).toMatchObject({ status: 'OK' });
  });

  it('with unreadableReplies "fail", a reply it cannot read fails the pending request', async () => {
    const a = await agent();
    a.respond = () => 'garbage';
    const strict = await client({ unreadableReplies: 'fail' });
    await expect(strict.request('hello')).rejects.toThrow(/malformed reply from agent: this is not json/);
  });

  it('by default keeps unreadable lines aside', async () => {
    const a = await agent();
    a.respond = (req) => (req.op === 'status' ? 'garbage' : undefined);
    const c = await client();
    void c.request('status', {}, { timeoutMs: 1000 }).catch(() => undefined);
    expect(await c.request('hello')).toMatchObject({ status: 'OK' });
    expect(c.unreadable).toEqual(['this is not json']);
  });

  it('cannot connect where nothing listens: AgentUnavailable at once with one attempt', async () => {
    await expect(AgentClient.connect(path, { connectTimeoutMs: 0 })).rejects.toThrow(AgentUnavailable);
  });
});
