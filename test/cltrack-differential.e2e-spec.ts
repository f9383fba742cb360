/**
 * Differential test (SPEC §4.1): random kernel-like sequences of nfsdcltrack commands run through
 * the real nfsdcltrack (Debian's nfs-kernel-server, on SQLite), through gk-cltrack (the Node one,
 * apps/gk-cltrack) talking to a node-agent of a one-node cluster on real NATS, and through the
 * compiled gk-cltrack (native/gk-cltrack, a process per step as nfsd runs it) talking to the
 * node-agent of another one-node cluster: all three must give the same exit code at every step.
 *
 * Kernel-like: nfsd runs `init` with its boot time when it starts (a reboot is the next
 * wall-clock second, so every record written before is older than it), `create` with
 * NFSDCLTRACK_CLIENT_HAS_SESSION and the boot time, `check` with HAS_SESSION, `remove`, and
 * `gracedone <boot time>`; mixed in are v4.0 and v4.1 clients, bad hex, over-long ids, unknown
 * commands and missing arguments. Seeded: GK_DIFF_SEED=<n> replays a run; GK_DIFF_STEPS sets
 * the length (default 600).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { jsonLinesConnector } from '../apps/gk-cltrack/src/agent-transport';
import { runCltrack } from '../apps/gk-cltrack/src/cltrack';
import { startTestAgent, type TestAgent } from '../apps/node-agent/test/in-process';
import { cleanupStream, testNatsUrl, testStreamNames, findNfsdcltrack, NFSDCLTRACK_SCENARIOS, playScenario, runNativeCltrack, runNfsdcltrack, mulberry32 } from '#testing';

jest.setTimeout(600_000);

const SEED = Number(process.env.GK_DIFF_SEED ?? Math.floor(Math.random() * 2 ** 31));
const STEPS = Number(process.env.GK_DIFF_STEPS ?? 600);
const names = testStreamNames('cltdiff');

const rng = mulberry32;

type Step = { reboot: true } | { args: string[]; env: Record<string, string> };

/** A generator of kernel-like command sequences over a small pool of clients. */
function* commands(random: () => number, steps: number, bootTime: () => number): Generator<Step> {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const clients = Array.from({ length: 10 }, (_, i) => ({
    hex: Buffer.from(`client-${i}-${Math.floor(random() * 1e6)}`).toString('hex'),
    v41: random() < 0.5,
  }));
  // The empty owner: nfsdcltrack records it like any other (SPEC §4.1: same exit codes for any sequence).
  clients.push({ hex: '', v41: random() < 0.5 });
  const session = (c: { v41: boolean }) => ({ NFSDCLTRACK_CLIENT_HAS_SESSION: c.v41 ? 'Y' : 'N' });
  const T = () => String(bootTime());
  yield { reboot: true };
  yield { args: ['init'], env: { NFSDCLTRACK_GRACE_START: T() } };
  for (let i = 0; i < steps; i++) {
    const r = random();
    const c = pick(clients);
    // The client id as the kernel prints it (lowercase), or sometimes in upper case (also valid hex).
    const id = random() < 0.1 ? c.hex.toUpperCase() : c.hex;
    if (r < 0.04) {
      yield { reboot: true };
      yield { args: ['init'], env: { NFSDCLTRACK_GRACE_START: T() } };
    } else if (r < 0.06) {
      yield { args: ['init'], env: { NFSDCLTRACK_GRACE_START: T() } };
    } else if (r < 0.36) {
      yield { args: ['create', id], env: { ...session(c), NFSDCLTRACK_GRACE_START: T() } };
    } else if (r < 0.66) {
      yield { args: ['check', id], env: session(c) };
    } else if (r < 0.74) {
      yield { args: ['remove', id], env: {} };
    } else if (r < 0.81) {
      yield { args: ['gracedone', T()], env: {} };
    } else if (r < 0.87) {
      const bad = pick(['zz', '0', '0g', `${c.hex}x`, `${c.hex.slice(1)}`, ' 0a', 'é0']);
      yield { args: [pick(['create', 'check', 'remove']), bad], env: session(c) };
    } else if (r < 0.9) {
      yield { args: [pick(['create', 'check', 'remove']), '0a'.repeat(1025 + Math.floor(random() * 3))], env: session(c) };
    } else if (r < 0.93) {
      yield { args: [pick(['frobnicate', 'CREATE', 'gracestart', 'list'])], env: {} };
    } else if (r < 0.95) {
      yield { args: [pick(['create', 'check', 'remove', 'gracedone'])], env: {} };
    } else if (r < 0.97) {
      // A v4.1 client that is still v4.0 to the kernel (or the reverse): its HAS_SESSION flips.
      yield { args: [pick(['create', 'check']), id], env: { NFSDCLTRACK_CLIENT_HAS_SESSION: c.v41 ? 'N' : 'Y', NFSDCLTRACK_GRACE_START: T() } };
    } else {
      yield { args: ['create', Buffer.alloc(1024, Math.floor(random() * 256)).toString('hex')], env: session(c) };
    }
  }
}

/** Both gk-cltracks, one step each, against the agent at `dir`. */
const GK_CLTRACKS = {
  node: (dir: string, args: string[], env: Record<string, string>) => runCltrack(['/usr/sbin/gk-cltrack', '-s', dir, ...args], env, {
    connect: jsonLinesConnector(10_000),
    stdout: () => undefined,
    stderr: () => undefined,
  }),
  native: async (dir: string, args: string[], env: Record<string, string>) => (await runNativeCltrack(['-s', dir, ...args], env)).code,
};

describe('gk-cltrack (Node and compiled) + node-agent (one-node cluster) vs nfsdcltrack', () => {
  const where = findNfsdcltrack();
  let admin: NatsConnection;
  let agent: TestAgent;
  let nativeAgent: TestAgent;
  let store: string;

  beforeAll(async () => {
    admin = await natsConnect({ servers: testNatsUrl() });
    if ('skipReason' in where) return;
    agent = await startTestAgent({ natsUrl: testNatsUrl(), names, cluster: `diff${SEED}`, node: 'n1' });
    nativeAgent = await startTestAgent({ natsUrl: testNatsUrl(), names, cluster: `diffc${SEED}`, node: 'n1' });
    store = mkdtempSync(join(tmpdir(), 'gk-cltrack-diff-'));
  });
  afterAll(async () => {
    if (!('skipReason' in where)) {
      await agent.stop();
      await nativeAgent.stop();
      rmSync(store, { recursive: true, force: true });
    }
    await cleanupStream(admin, names);
    await admin.close();
  });

  // The recorded scenarios (what the real binary answers, docs/nfsdcltrack-semantics.md), each on
  // a fresh cluster, the empty client ID included.
  const scenarios = NFSDCLTRACK_SCENARIOS;
  const runs = Object.keys(GK_CLTRACKS) as Array<keyof typeof GK_CLTRACKS>;
  it.each(runs.flatMap((which) => scenarios.map((s, i) => [s.name, which, s, i] as const)))('recorded scenario: %s (%s gk-cltrack)', async (_name, which, scenario, i) => {
    const scenarioAgent = await startTestAgent({ natsUrl: testNatsUrl(), names, cluster: `scenario${which}${i}`, node: 'n1' });
    try {
      const results = await playScenario(scenario, (args, env) => GK_CLTRACKS[which](scenarioAgent.dir, args, env));
      expect(results.map((r) => `${r.step} => ${r.got}`)).toEqual(results.map((r) => `${r.step} => ${r.expected}`));
    } finally {
      await scenarioAgent.stop();
    }
  });

  it(`same exit code at every step (seed ${SEED}, ${STEPS} steps)`, async () => {
    if ('skipReason' in where) {
      // The one allowed skip: the package cannot be fetched here. Said out loud, not silently.
      process.stderr.write(`SKIPPED cltrack differential test: ${where.skipReason}\n`);
      return;
    }
    process.stderr.write(`cltrack differential test: seed ${SEED} (replay with GK_DIFF_SEED=${SEED})\n`);
    const random = rng(SEED);
    let boot = Math.floor(Date.now() / 1000);
    const history: string[] = [];
    const mismatches: string[] = [];
    let compared = 0;
    for (const step of commands(random, STEPS, () => boot)) {
      if ('reboot' in step) {
        // nfsd restarts: the next wall-clock second, so that everything so far is older than the boot.
        await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
        boot = Math.floor(Date.now() / 1000);
        history.push(`--- reboot (boot time ${boot})`);
        continue;
      }
      const expected = runNfsdcltrack(store, step.args, step.env);
      const got = await GK_CLTRACKS.node(agent.dir, step.args, step.env);
      const native = await GK_CLTRACKS.native(nativeAgent.dir, step.args, step.env);
      compared++;
      const shown = step.args.map((a) => (a.length > 24 ? `…${a.slice(-8).toLowerCase()}(${a.length})` : a)).join(' ');
      const env = Object.entries(step.env).map(([k, v]) => `${k.replace('NFSDCLTRACK_', '')}=${v}`).join(' ');
      const codes = `nfsdcltrack ${expected}, gk-cltrack ${got}, compiled gk-cltrack ${native}`;
      history.push(`${String(compared).padStart(4)} ${shown} ${env} => ${codes}`);
      if (expected !== got || expected !== native) mismatches.push(`step ${compared}: ${shown} ${env}: ${codes}`);
    }
    expect(compared).toBeGreaterThanOrEqual(STEPS); // every step of the generator but the reboots is a command
    if (mismatches.length) process.stderr.write(`seed ${SEED}: ${mismatches.length} mismatches; history:\n${history.join('\n')}\n`);
    expect(mismatches).toEqual([]);
  });
});
