import fc from 'fast-check';
import { z } from 'zod';
import { Workload } from '#testing';
import { compileCheck } from './compiled-check';
import { decodeDecision, encodeDecision } from './decision';
import { EVENT_TYPES, GkEventSchema } from './events';

/**
 * The compiled check may only say "valid" where zod says valid and returns an equal value; it
 * should say so for the events the services really write (or reading gains nothing).
 */
const fastEvent = compileCheck(GkEventSchema);

function realEvents(): Record<string, unknown>[] {
  const w = new Workload({ cluster: 'c-1', seed: 7, nodes: 4, clientsPerNode: 50, batch: 6, restartOdds: 0.3 });
  const events: Record<string, unknown>[] = [];
  for (let i = 0; i < 3000; i++) events.push(...(JSON.parse(JSON.stringify(w.next().events)) as Record<string, unknown>[]));
  const base = { v: 1, id: 'd/0', cluster: 'c-1', epoch: 3, time: '2026-01-01T00:00:00.000Z', actor: 'gracectl:root', causation: 'req-1' };
  events.push(
    { ...base, type: 'IdentityMoved', node: 'a', fromHost: 'a', toHost: 'b', generation: 2 },
    { ...base, type: 'ClientRecordsInvalidated', recoveryEpoch: 2, reason: 'deadline', node: 'a', clients: [], part: 0, parts: 1 },
    { ...base, type: 'ReclaimAccepted', node: 'a', recoveryEpoch: 2, clients: ['00ff'], host: 'b' },
    { ...base, type: 'ClientRecorded', node: 'a', clients: [{ client: '', principalHash: 'ab'.repeat(32), hasSession: false }] },
    { ...base, type: 'MemberSilent', node: 'b', host: 'b', silentForMs: 5012, deadAfterMs: 5000, policy: 'move', policyRefused: 'the standby a is silent too' },
    { ...base, type: 'MemberSilent', node: 'b', host: 'b', silentForMs: 5012, deadAfterMs: 5000, policy: 'wait' },
    { ...base, type: 'MemberHeard', node: 'b', host: 'b' },
  );
  return events;
}

const REAL = realEvents();

/** Every place a value sits in `root`: the object or array holding it and its key. */
function places(root: unknown): [Record<string, unknown>, string][] {
  if (typeof root !== 'object' || root === null) return [];
  const holder = root as Record<string, unknown>;
  return Object.keys(holder).flatMap((key) => [[holder, key] as [Record<string, unknown>, string], ...places(holder[key])]);
}

const strangeValues = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(0, -1, 1.5, 2 ** 53, -0, '', 'A', 'ab', 'abc', 'zz', '2026-01-01T00:00:00Z', '2026-02-30T00:00:00Z', null, [], {}, true, 'x'.repeat(201), 'ab'.repeat(1025)),
  fc.string(),
  fc.constantFrom(...REAL).chain((e) => fc.constantFrom(...places(e).map(([holder, key]) => holder[key]))), // a valid value of another field
);

/** A real event with one change anywhere in it: a value replaced or removed, or a key added. */
const mutated = fc.tuple(fc.constantFrom(...REAL), fc.integer({ min: 0, max: 2 ** 30 }), strangeValues, fc.constantFrom('set', 'delete', 'add')).map(([event, pick, value, op]) => {
  const copy = JSON.parse(JSON.stringify(event)) as Record<string, unknown>; // this realm's objects, as JSON.parse gives
  const all = places(copy);
  const [holder, key] = all[pick % all.length]!;
  if (op === 'delete') delete holder[key];
  else if (op === 'add') (Array.isArray(holder) ? holder.push(value) : (holder[`extra${pick % 3}`] = value));
  else holder[key] = value;
  return copy;
});

describe('compiled check against the zod schema', () => {
  it('accepts every event the services write, as zod does', () => {
    const types = new Set(REAL.map((e) => e.type));
    expect([...types].sort()).toEqual([...EVENT_TYPES].sort());
    for (const event of REAL) {
      expect(GkEventSchema.safeParse(event).success).toBe(true);
      expect(fastEvent(event)).toBe(true);
    }
  });

  it('never accepts what zod refuses, and what it accepts zod returns unchanged', () => {
    let refused = 0;
    let accepted = 0;
    fc.assert(fc.property(fc.oneof({ weight: 5, arbitrary: mutated }, { weight: 1, arbitrary: fc.anything() }), (value) => {
      if (!fastEvent(value)) {
        refused++;
        return;
      }
      accepted++;
      const parsed = GkEventSchema.safeParse(value);
      expect(parsed.success).toBe(true);
      expect(parsed.data).toEqual(value);
    }), { numRuns: 20_000, seed: 13 });
    // Both answers are common: the mutations reach invalid values and leave many valid ones.
    expect(refused).toBeGreaterThan(1000);
    expect(accepted).toBeGreaterThan(1000);
  });

  it('gives the same decoded decision as zod, and zod\'s error for what it cannot vouch for', () => {
    const message = { kind: 'gk.decision' as const, v: 1 as const, id: 'd', events: REAL.slice(0, 40) as never[] };
    expect(decodeDecision(encodeDecision(message))).toEqual({ ok: true, value: message });
    const bad = { ...message, events: [...message.events, { ...REAL[0], epoch: 0 }] as never[] };
    expect(decodeDecision(encodeDecision(bad))).toMatchObject({ ok: false, error: { kind: 'invalid-event', message: expect.stringContaining('event 40') } });
  });

  it('compiles a rule it does not know to "ask zod" rather than to "valid"', () => {
    const unknownRules = [
      z.string().email(),
      z.string().refine((s) => s.startsWith('a')),
      z.number().multipleOf(2),
      z.object({ a: z.string() }), // not strict: unknown keys pass through zod (and are stripped)
      z.object({ a: z.string().transform((s) => s.length) }).strict(),
      z.string().regex(/a/g),
    ];
    for (const schema of unknownRules) expect(compileCheck(schema)('a')).toBe(false);
    expect(compileCheck(z.object({ a: z.string() }))({ a: 'a' })).toBe(false);
    expect(compileCheck(z.object({ a: z.string().transform((s) => s.length) }).strict())({ a: 'a' })).toBe(false);
  });
});
