import { randomBytes } from 'node:crypto';

/** Lowercase hex, `bytes * 2` characters: short enough for names, random enough for parallel runs. */
export function randomToken(bytes = 4): string {
  return randomBytes(bytes).toString('hex');
}

/**
 * A NATS-subject-safe, stream-name-safe token unique to this call, e.g. `gkt_replay_1a2b3c4d`,
 * so tests and benchmarks can share one NATS server without seeing each other's streams.
 */
export function uniquePrefix(label: string): string {
  const clean = label.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 40);
  return `gkt_${clean || 'x'}_${randomToken()}`;
}
