import { z } from 'zod';

/** Node and cluster ids travel in NATS subjects and in gracectl's tab-separated dump. */
export const NodeIdSchema = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'node id: 1-128 of letters, digits and _ . : -');
export const ClusterIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'cluster id: 1-128 of letters, digits, _ and -');

/** The largest client owner (nfs_client_id4 / cld_name) the kernel sends: NFS4_OPAQUE_LIMIT. */
export const MAX_CLIENT_ID_BYTES = 1024;
/**
 * A client id is its owner string as lowercase hex. The empty owner is a valid id: nfsdcltrack
 * records `create ""` and answers `check ""` with 0, and SPEC §4.1 wants gk-cltrack's exit codes
 * equal to its for any sequence (cld still refuses an empty cld_name, as the kernel never sends one).
 */
export const ClientIdSchema = z.string()
  .regex(/^(?:[0-9a-f]{2})*$/, 'client id: lowercase hex of whole bytes')
  .max(MAX_CLIENT_ID_BYTES * 2, `client id: at most ${MAX_CLIENT_ID_BYTES} bytes`);
export const PrincipalHashSchema = z.string().regex(/^(?:[0-9a-f]{2}){1,32}$/, 'principal hash: lowercase hex, at most 32 bytes');

export type NodeId = string;
export type ClientId = string;
