import type { GraceEndReason } from './events';

/**
 * Why a grace period ended, in an operator's words: one text for audits, gracectl and the console
 * (here, not in the projection, so that the coordinator can use it without loading PostgreSQL's client).
 */
export function endReasonText(reason: GraceEndReason | string): string {
  switch (reason) {
    case 'all-reclaimed': return 'every recovering node finished reclaiming';
    case 'deadline': return 'its deadline passed';
    case 'first-non-reclaim-grant': return 'a node granted non-reclaim state (exitPolicy first-exit)';
    case 'removed': return 'the last recovering node was removed';
    case 'admin': return 'an administrator ended it';
    default: return reason;
  }
}
