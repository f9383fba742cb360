import { CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable, Optional, UnauthorizedException } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { ADMIN_TOKEN, READ_TOKEN } from './tokens';

/**
 * A configured token, kept as its SHA-256 digest. A presented token is hashed and the two digests
 * compared in constant time: equal lengths always, so neither the comparison's time nor an early
 * length check tells an attacker how long the token is or how much of it matched.
 */
export class TokenDigest {
  private readonly digest: Buffer;
  constructor(token: string) {
    this.digest = sha256(token);
  }
  matches(presented: string): boolean {
    return timingSafeEqual(sha256(presented), this.digest);
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The bearer token of a request ('' when there is none). */
function bearerOf(context: ExecutionContext): string {
  const header = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>().headers.authorization ?? '';
  return /^Bearer\s+(.+)$/i.exec(header)?.[1] ?? '';
}

/**
 * Bearer token for admin calls that change state. With no token configured, changes are refused
 * outright: an open admin endpoint on an NFS server's network is worse than a missing one.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly admin?: TokenDigest;

  constructor(@Optional() @Inject(ADMIN_TOKEN) token?: string) {
    this.admin = token ? new TokenDigest(token) : undefined;
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.admin) throw new ForbiddenException('admin changes are disabled: no admin token configured (GK_ADMIN_TOKEN_FILE)');
    if (!this.admin.matches(bearerOf(context))) throw new UnauthorizedException('a valid bearer token is required (Authorization: Bearer <admin token>)');
    return true;
  }
}

/**
 * Reads (which return client identities: records, audits, status) need the read token when one
 * is configured; the admin token is accepted too. With no read token, reads are open (the admin
 * endpoints listen on loopback unless told otherwise).
 */
@Injectable()
export class ReadTokenGuard implements CanActivate {
  private readonly accepted: TokenDigest[];

  constructor(@Optional() @Inject(READ_TOKEN) read?: string, @Optional() @Inject(ADMIN_TOKEN) admin?: string) {
    this.accepted = read ? [new TokenDigest(read), ...(admin ? [new TokenDigest(admin)] : [])] : [];
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.accepted.length === 0) return true;
    const presented = bearerOf(context);
    // Every digest is compared, whichever matches: the time does not say which token it was.
    const matched = this.accepted.map((t) => t.matches(presented)).some(Boolean);
    if (!matched) throw new UnauthorizedException('reads need a bearer token (Authorization: Bearer <read token>)');
    return true;
  }
}

/**
 * Whether a presented token is the configured one, in constant time: both are hashed first, so
 * neither the content nor the length of the configured token shows in the timing. REST's bearer
 * token and the coordinator's NATS admin requests use this one comparison.
 */
export function tokenMatches(given: string | undefined, configured: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(given ?? ''), digest(configured)) && given !== undefined;
}
