import { TestStream } from '#testing';
import { executeOnce, LiveClusterView, ViewSupervisor, type GraceEventStore } from './index';

const stream = new TestStream('vsup');
const { names } = stream;
beforeAll(() => stream.open({ store: 'view-supervisor-test' }));
afterAll(() => stream.close());

async function eventually(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const add = (cluster: string, node: string) => executeOnce(stream.opened.store, names, cluster, { type: 'add', nodes: [node] }, { actor: 'test' });

describe('ViewSupervisor', () => {
  it('reopens a view whose subscription ended, and is not live meanwhile', async () => {
    await add('reopen', 'a');
    const problems: string[] = [];
    const installed: [LiveClusterView, LiveClusterView | undefined][] = [];
    const supervisor = await ViewSupervisor.open({
      store: stream.opened.store,
      names,
      cluster: 'reopen',
      reopenDelayMs: 200,
      onInstalled: (view, previous) => installed.push([view, previous]),
      onProblem: (message) => problems.push(message),
    });
    try {
      const first = supervisor.view;
      expect([supervisor.live, installed.length]).toEqual([true, 1]);
      // The subscription ends on its own (as after a failed handler): not a close of the supervisor.
      await first.close();
      await eventually('the supervisor to notice', () => !supervisor.live);
      await eventually('a new view', () => supervisor.live);
      expect(supervisor.view).not.toBe(first);
      expect(installed[1]).toEqual([supervisor.view, first]);
      expect(supervisor.reloads).toBe(1);
      expect(problems).toEqual([expect.stringContaining('view subscription ended')]);
      // The new view is live: it sees another writer's decision, and the committer uses it.
      await add('reopen', 'b');
      await supervisor.view.catchUp();
      expect([...supervisor.view.state.members.keys()].sort()).toEqual(['a', 'b']);
      const r = await supervisor.committer.submit({ type: 'create', node: 'a', clients: [{ client: 'c0ffee' }] }, { actor: 'a' });
      expect(r).toMatchObject({ ok: true, sequence: supervisor.view.version });
    } finally {
      await supervisor.close();
    }
  });

  it('its watchdog replaces a view that stopped applying what the log holds', async () => {
    await add('stall', 'a');
    // The first view's subscription silently drops every delivery: it stalls at its load.
    let subscriptions = 0;
    const stalling = new Proxy(stream.opened.store, {
      get(target, key, receiver) {
        if (key !== 'subscribe') return Reflect.get(target, key, receiver);
        return (filter: string, options: { fromSequence: number }, handler: (m: unknown) => void, hooks?: unknown) =>
          target.subscribe(filter, options, ++subscriptions === 1 ? () => undefined : handler, hooks as never);
      },
    }) as GraceEventStore;
    const problems: string[] = [];
    const supervisor = await ViewSupervisor.open({ store: stalling, names, cluster: 'stall', watchdogMs: 50, onProblem: (m) => problems.push(m) });
    try {
      const first = supervisor.view;
      const stalledAt = first.version;
      await add('stall', 'b');
      await eventually('the stalled view to be replaced', () => supervisor.view !== first);
      expect(first.version).toBe(stalledAt);
      await supervisor.view.catchUp();
      expect([...supervisor.view.state.members.keys()].sort()).toEqual(['a', 'b']);
      expect(supervisor.reloads).toBe(1);
      expect(problems).toEqual([expect.stringContaining(`live view stalled at sequence ${stalledAt}`)]);
    } finally {
      await supervisor.close();
    }
  });
});
