import { CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable, Optional, UnauthorizedException } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { ADMIN_TOKEN } from './tokens';

/**
 * Bearer token for admin calls that change state. With no token configured, changes are refused
 * outright: an open admin endpoint on an NFS server's network is worse than a missing one.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  constructor(@Optional() @Inject(ADMIN_TOKEN) private readonly token?: string) {}

  canActivate(context: ExecutionContext): boolean {
    if (!this.token) throw new ForbiddenException('admin changes are disabled: no admin token configured (GK_ADMIN_TOKEN)');
    const header = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>().headers.authorization ?? '';
    const given = /^Bearer\s+(.+)$/i.exec(header)?.[1] ?? '';
    if (!tokenMatches(given, this.token)) throw new UnauthorizedException('a valid bearer token is required (Authorization: Bearer <GK_ADMIN_TOKEN>)');
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
