import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { HANG_MS, type FuzzTarget } from './harness';

/**
 * Coverage-guided mode (`npm run fuzz -- --guided`). Jest runs the fuzz project with coverage on
 * the decoder modules (`covers` of each target), so its transform instruments their compiled JS
 * with istanbul (babel-plugin-istanbul, i.e. istanbul-lib-instrument) and the statement, branch
 * and function counters live in `globalThis.__coverage__`, read here after every input.
 *
 * An input is not kept as a value but as the choices that generated it: the target's own
 * arbitrary (the existing corpus mutators, JSON shapes, argv words) draws its random numbers from
 * a recorded sequence. Mutating that sequence (change, splice, drop, insert numbers) gives inputs
 * of the right shape near a kept one, whatever the target's input type. A sequence whose input
 * reached a counter no earlier input reached joins the corpus; later inputs mutate corpus entries.
 */
type Counters = Record<string, { s: Record<string, number>; b: Record<string, number[]>; f: Record<string, number> }>;

function coverage(): Counters {
  const c = (globalThis as { __coverage__?: Counters }).__coverage__;
  if (!c) throw new Error('no coverage counters: the guided mode runs under jest --coverage (npm run fuzz -- --guided)');
  return c;
}

/** The coverage files of a target: those under one of its `covers` paths. */
function filesOf(covers: readonly string[]): string[] {
  return Object.keys(coverage()).filter((file) => covers.some((prefix) => file.includes(`/${prefix}`)));
}

/** Sets every counter of `files` to 0 (so two modes can be compared on the same files). */
export function resetCoverage(covers: readonly string[]): void {
  const c = coverage();
  for (const file of filesOf(covers)) {
    const f = c[file]!;
    for (const k of Object.keys(f.s)) f.s[k] = 0;
    for (const k of Object.keys(f.f)) f.f[k] = 0;
    for (const arms of Object.values(f.b)) arms.fill(0);
  }
}

/** Branch arms, statements and functions of `files` reached at least once, and of how many. */
export function covered(covers: readonly string[]): { branches: number; branchesTotal: number; statements: number; statementsTotal: number } {
  const c = coverage();
  const r = { branches: 0, branchesTotal: 0, statements: 0, statementsTotal: 0 };
  for (const file of filesOf(covers)) {
    for (const arms of Object.values(c[file]!.b)) for (const n of arms) { r.branchesTotal++; if (n > 0) r.branches++; }
    for (const n of Object.values(c[file]!.s)) { r.statementsTotal++; if (n > 0) r.statements++; }
  }
  return r;
}

/** Which counters of the target's files any input reached so far (one flag per counter, no allocation per input). */
class CoverageMap {
  private readonly files: { s: Record<string, number>; b: Record<string, number[]>; sKeys: string[]; bKeys: string[]; sSeen: Uint8Array; bSeen: Uint8Array[] }[];

  constructor(files: string[]) {
    const c = coverage();
    this.files = files.map((file) => {
      const { s, b } = c[file]!;
      const bKeys = Object.keys(b);
      return { s, b, sKeys: Object.keys(s), bKeys, sSeen: new Uint8Array(Object.keys(s).length), bSeen: bKeys.map((k) => new Uint8Array(b[k]!.length)) };
    });
  }

  /** Adds what the counters reach now; true when that includes something new. */
  update(): boolean {
    let novel = false;
    for (const f of this.files) {
      for (let i = 0; i < f.sKeys.length; i++) {
        if (f.sSeen[i] === 0 && f.s[f.sKeys[i]!]! > 0) { f.sSeen[i] = 1; novel = true; }
      }
      for (let i = 0; i < f.bKeys.length; i++) {
        const arms = f.b[f.bKeys[i]!]!;
        const seen = f.bSeen[i]!;
        for (let arm = 0; arm < arms.length; arm++) if (seen[arm] === 0 && arms[arm]! > 0) { seen[arm] = 1; novel = true; }
      }
    }
    return novel;
  }
}

/** A pure-rand generator that replays recorded choices, then records fresh ones from `fresh`. */
class ChoiceRng {
  constructor(readonly choices: number[], private pos: number, private readonly fresh: fc.Random) {}
  clone(): ChoiceRng {
    return new ChoiceRng(this.choices, this.pos, this.fresh);
  }
  next(): number {
    if (this.pos >= this.choices.length) this.choices.push(this.fresh.nextInt(-0x80000000, 0x7fffffff));
    return this.choices[this.pos++]!;
  }
  getState(): readonly number[] {
    return [this.pos];
  }
}

const MAX_CHOICES = 4096;

/** A mutation of a kept choice sequence (optionally spliced with another one). */
function mutate(parent: number[], other: number[], rnd: fc.Random): number[] {
  const out = parent.slice();
  const at = () => rnd.nextInt(0, Math.max(0, out.length - 1));
  const times = 1 + rnd.nextInt(0, 3);
  for (let i = 0; i < times; i++) {
    switch (rnd.nextInt(0, 5)) {
      case 0: if (out.length) out[at()] = rnd.nextInt(-0x80000000, 0x7fffffff); break;
      case 1: if (out.length) out[at()] = [0, 1, -1, 0x7fffffff, -0x80000000][rnd.nextInt(0, 4)]!; break;
      case 2: if (out.length) { const j = at(); out[j] = (out[j]! + rnd.nextInt(-16, 16)) | 0; } break;
      case 3: out.splice(at(), rnd.nextInt(1, 8)); break;
      case 4: out.splice(at(), 0, ...Array.from({ length: rnd.nextInt(1, 8) }, () => rnd.nextInt(-0x80000000, 0x7fffffff))); break;
      default: { // splice: the other sequence's tail after a prefix of this one
        const cut = at();
        out.splice(cut, out.length - cut, ...other.slice(rnd.nextInt(0, Math.max(0, other.length - 1))));
      }
    }
  }
  return out.slice(0, MAX_CHOICES);
}

export interface GuidedStats {
  target: string;
  mode: 'guided';
  runs: number;
  seed: number;
  ms: number;
  inputsPerSecond: number;
  corpus: number;
  slowestInputMs: number;
  failure?: string;
}

/** Runs `runs` inputs of `target`, guided by coverage; a corpus persists in `corpusDir` when given. */
export async function runGuided<T>(target: FuzzTarget<T>, options: { runs: number; seed: number; corpusDir?: string }): Promise<GuidedStats> {
  const covers = target.covers ?? [];
  await target.warmUp?.();
  const map = new CoverageMap(filesOf(covers));
  map.update();
  const rnd = new fc.Random(new Xorshift32(options.seed * 2654435761 + 1));
  const corpusFile = options.corpusDir ? join(options.corpusDir, `${target.name}.json`) : undefined;
  const corpus: number[][] = corpusFile ? loadCorpus(corpusFile) : [];
  let slowest = 0;
  const started = performance.now();
  let runs = 0;
  let failure: string | undefined;
  for (; runs < options.runs && !failure; runs++) {
    // Fresh sequences until the corpus has something, then mostly mutations of kept ones.
    const choices = corpus.length === 0 || rnd.nextInt(0, 9) === 0
      ? []
      : mutate(corpus[rnd.nextInt(0, corpus.length - 1)]!, corpus[rnd.nextInt(0, corpus.length - 1)]!, rnd);
    const rng = new ChoiceRng(choices, 0, rnd);
    const input = target.arbitrary.generate(new fc.Random(rng), rnd.nextInt(0, 3) === 0 ? undefined : 2).value;
    const t0 = performance.now();
    try {
      await target.check(input);
    } catch (err) {
      failure = `${target.name} (guided) failed after ${runs + 1} inputs (seed ${options.seed}):\ninput: ${fc.stringify(input).slice(0, 2000)}\n` +
        `error: ${err instanceof Error ? err.stack : String(err)}`;
    }
    const dt = performance.now() - t0;
    if (dt > slowest) slowest = dt;
    if (!failure && dt > HANG_MS) failure = `${target.name} (guided): one input took ${Math.round(dt)} ms (a hang): ${fc.stringify(input).slice(0, 2000)}`;
    if (map.update()) corpus.push(rng.choices.slice(0, MAX_CHOICES));
  }
  const ms = performance.now() - started;
  if (corpusFile && options.corpusDir) {
    mkdirSync(options.corpusDir, { recursive: true });
    writeFileSync(corpusFile, JSON.stringify(corpus));
  }
  return {
    target: target.name, mode: 'guided', runs, seed: options.seed, ms: Math.round(ms), inputsPerSecond: Math.round(runs / (ms / 1000)),
    corpus: corpus.length, slowestInputMs: Math.round(slowest * 10) / 10, ...(failure ? { failure } : {}),
  };
}

/** A small seeded generator (xorshift32) in the shape fast-check's Random takes. */
class Xorshift32 {
  constructor(private state: number) {
    if (this.state === 0) this.state = 0x9e3779b9;
  }
  clone(): Xorshift32 {
    return new Xorshift32(this.state);
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x | 0;
    return this.state;
  }
  getState(): readonly number[] {
    return [this.state];
  }
}

function loadCorpus(file: string): number[][] {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return Array.isArray(parsed) ? parsed.filter((c): c is number[] => Array.isArray(c) && c.every((n) => Number.isInteger(n))) : [];
  } catch {
    return [];
  }
}
