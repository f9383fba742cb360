/**
 * "Full jitter" exponential backoff: a random delay in [0, min(cap, base * 2^attempt)). Writers that
 * lost the same race spread out instead of colliding again in lockstep.
 */
export function jitteredDelay(attempt: number, baseMs: number, capMs: number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.random() * ceiling;
}
