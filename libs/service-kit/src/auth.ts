import { CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable, Optional, UnauthorizedException } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { ADMIN_TOKEN, READ_TOKEN } from './tokens';

/**
 * A configured token, kept as its SHA-256 digest. A presented token is hashed and the two digests
 * compared in constant time: equal lengths always, so neither the comparison's time nor an early
 * length check tells an attacker how long the token is or how much of it matched. The one token
 * comparison of every transport: REST bearer tokens and the `token` field of NATS requests.
 */
export class TokenDigest {
  private readonly digest: Buffer;
  constructor(token: string) {
    this.digest = sha256(token);
  }
  /** A missing token ('' or undefined) never matches: configured tokens are never empty. */
  matches(presented: string | undefined): boolean {
    return timingSafeEqual(sha256(presented ?? ''), this.digest) && presented !== undefined;
  }
}

/**
 * The tokens a read accepts: the read token, and the admin token too. With no read token
 * configured, reads are open (`required` is false) and every caller is accepted.
 */
export class ReadTokens {
  private readonly accepted: TokenDigest[];
  constructor(read?: string, admin?: string) {
    this.accepted = read ? [new TokenDigest(read), ...(admin ? [new TokenDigest(admin)] : [])] : [];
  }
  get required(): boolean {
    return this.accepted.length > 0;
  }
  accepts(presented: string | undefined): boolean {
    if (!this.required) return true;
    // Every digest is compared, whichever matches: the time does not say which token it was.
    return this.accepted.map((t) => t.matches(presented)).some(Boolean);
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
  private readonly tokens: ReadTokens;

  constructor(@Optional() @Inject(READ_TOKEN) read?: string, @Optional() @Inject(ADMIN_TOKEN) admin?: string) {
    this.tokens = new ReadTokens(read, admin);
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.tokens.accepts(bearerOf(context))) throw new UnauthorizedException('reads need a bearer token (Authorization: Bearer <read token>)');
    return true;
  }
}
