import { CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable, Optional, UnauthorizedException } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
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
    const a = Buffer.from(given);
    const b = Buffer.from(this.token);
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new UnauthorizedException('a valid bearer token is required (Authorization: Bearer <GK_ADMIN_TOKEN>)');
    return true;
  }
}
