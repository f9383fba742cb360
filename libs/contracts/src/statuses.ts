/** NFSv4 status names and numbers the interfaces answer with (RFC 7530, RFC 8881). */
export const NFS4_STATUS = {
  NFS4_OK: 0,
  NFS4ERR_GRACE: 10013,
  NFS4ERR_STALE_CLIENTID: 10022,
  NFS4ERR_NO_GRACE: 10033,
  NFS4ERR_RECLAIM_BAD: 10034,
  NFS4ERR_RECLAIM_CONFLICT: 10035,
  NFS4ERR_COMPLETE_ALREADY: 10054,
} as const;
export type Nfs4StatusName = keyof typeof NFS4_STATUS;
export type ReclaimStatus = 'OK' | 'NFS4ERR_GRACE' | 'NFS4ERR_NO_GRACE' | 'NFS4ERR_RECLAIM_BAD';
export type ReclaimCompleteStatus = 'OK' | 'NFS4ERR_COMPLETE_ALREADY' | 'NFS4ERR_NO_GRACE';
export type CheckStatus = 'OK' | 'NFS4ERR_RECLAIM_BAD';
export type MayGrantStatus = 'OK' | 'NFS4ERR_GRACE';
