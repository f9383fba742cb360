import type { ExecutionContext } from '@nestjs/common';
import { AdminTokenGuard, ReadTokenGuard, ReadTokens, TokenDigest } from './auth';

const request = (authorization?: string) =>
  ({ switchToHttp: () => ({ getRequest: () => ({ headers: authorization === undefined ? {} : { authorization } }) }) }) as unknown as ExecutionContext;
const allows = (guard: { canActivate(c: ExecutionContext): boolean }, authorization?: string) => {
  try {
    return guard.canActivate(request(authorization));
  } catch (err) {
    return (err as { getStatus(): number }).getStatus();
  }
};

describe('AdminTokenGuard', () => {
  it('accepts the token, refuses others (401), and refuses every change when none is configured (403)', () => {
    const guard = new AdminTokenGuard('the-admin-token');
    expect(allows(guard, 'Bearer the-admin-token')).toBe(true);
    expect(allows(guard, 'bearer   the-admin-token')).toBe(true);
    expect(allows(guard, 'Bearer the-admin-tokeN')).toBe(401);
    expect(allows(guard, 'Bearer the-admin-token-and-more')).toBe(401);
    expect(allows(guard)).toBe(401);
    expect(allows(new AdminTokenGuard(undefined), 'Bearer anything-at-all')).toBe(403);
  });

  it('compares digests of equal length whatever the length of the token presented', () => {
    const guard = new AdminTokenGuard('the-admin-token');
    // The module object itself (a namespace import would be a copy): auth.ts calls through it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const spy = jest.spyOn(require('node:crypto') as typeof import('node:crypto'), 'timingSafeEqual');
    try {
      for (const presented of ['x', 'the-admin-token', 'y'.repeat(5000)]) allows(guard, `Bearer ${presented}`);
      expect(spy).toHaveBeenCalledTimes(3);
      for (const [a, b] of spy.mock.calls) expect([(a as Buffer).length, (b as Buffer).length]).toEqual([32, 32]);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('ReadTokenGuard', () => {
  it('leaves reads open when no read token is configured', () => {
    expect(allows(new ReadTokenGuard(undefined, 'the-admin-token'))).toBe(true);
  });

  it('enforces the read token when set, and accepts the admin token too', () => {
    const guard = new ReadTokenGuard('the-read-token', 'the-admin-token');
    expect(allows(guard)).toBe(401);
    expect(allows(guard, 'Bearer not-a-token')).toBe(401);
    expect(allows(guard, 'Basic the-read-token')).toBe(401);
    expect(allows(guard, 'Bearer the-read-token')).toBe(true);
    expect(allows(guard, 'Bearer the-admin-token')).toBe(true);
  });
});

describe('TokenDigest and ReadTokens (the one comparison REST and NATS share)', () => {
  it('matches only the configured token; a missing token never matches', () => {
    const digest = new TokenDigest('the-admin-token');
    expect(digest.matches('the-admin-token')).toBe(true);
    expect(digest.matches('the-admin-token ')).toBe(false);
    expect(digest.matches(undefined)).toBe(false);
    expect(digest.matches('')).toBe(false);
  });

  it('accepts the read or the admin token when a read token is set, and everyone when none is', () => {
    const tokens = new ReadTokens('the-read-token', 'the-admin-token');
    expect(tokens.required).toBe(true);
    expect([tokens.accepts('the-read-token'), tokens.accepts('the-admin-token'), tokens.accepts('other'), tokens.accepts(undefined)]).toEqual([true, true, false, false]);
    const open = new ReadTokens(undefined, 'the-admin-token');
    expect(open.required).toBe(false);
    expect(open.accepts(undefined)).toBe(true);
  });
});
