/**
 * The simulator's order of observations: one process, one event loop, so a counter read when a
 * client receives a reply or sends a request totally orders everything the clients saw. Checks
 * compare ticks, never wall-clock times (no timed assertions).
 */
import { mulberry32 } from '#testing';
export class Ticker {
  private tick = 0;
  next(): number {
    return ++this.tick;
  }
  get now(): number {
    return this.tick;
  }
}

/** A small seeded PRNG (mulberry32): the same seed gives the same schedule. */
export class Rng {
  private readonly draw: () => number;
  constructor(readonly seed: number) {
    this.draw = mulberry32(seed);
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.draw();
  }
  int(lo: number, hiInclusive: number): number {
    return lo + Math.floor(this.next() * (hiInclusive - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from an empty list');
    return xs[Math.floor(this.next() * xs.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** A derived generator, so adding draws in one place does not shift another's sequence. */
  fork(salt: number): Rng {
    return new Rng((Math.imul(this.seed ^ salt, 0x9e3779b1) + salt) >>> 0);
  }
}

export { sleep } from '#infra';
