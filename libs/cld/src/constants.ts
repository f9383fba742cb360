/**
 * Wire constants of Linux nfsd's cld upcall (include/uapi/linux/nfsd/cld.h).
 * All structs are packed; integers are in the host's byte order.
 */

/** Highest upcall version we speak; the kernel clamps a larger answer to its own maximum. */
export const CLD_MAX_VERSION = 2;
export type CldVersion = 1 | 2;

export const NFS4_OPAQUE_LIMIT = 1024;
export const SHA256_DIGEST_SIZE = 32;

/** struct cld_msg_hdr: u8 cm_vers, u8 cm_cmd, s16 cm_status, u32 cm_xid. */
export const CLD_HEADER_SIZE = 8;
export const OFF_VERS = 0;
export const OFF_CMD = 1;
export const OFF_STATUS = 2;
export const OFF_XID = 4;
/** Start of the cm_u union. */
export const OFF_UNION = CLD_HEADER_SIZE;

/** struct cld_name: u16 cn_len, u8 cn_id[1024]. */
export const CLD_NAME_SIZE = 2 + NFS4_OPAQUE_LIMIT;
/** struct cld_princhash: u8 cp_len, u8 cp_data[32]; follows cc_name inside cld_clntinfo. */
export const CLD_PRINCHASH_SIZE = 1 + SHA256_DIGEST_SIZE;
export const OFF_NAME_LEN = OFF_UNION;
export const OFF_NAME_DATA = OFF_UNION + 2;
export const OFF_PRINCHASH_LEN = OFF_UNION + CLD_NAME_SIZE;
export const OFF_PRINCHASH_DATA = OFF_PRINCHASH_LEN + 1;

/** v1 union: max(s64 cm_gracetime, cld_name, u8 cm_version) = 1026 bytes. */
export const CLD_UNION_V1_SIZE = CLD_NAME_SIZE;
/** v2 union: max(cld_name, u8 cm_version, cld_clntinfo) = 1059 bytes. */
export const CLD_UNION_V2_SIZE = CLD_NAME_SIZE + CLD_PRINCHASH_SIZE;

/** sizeof(struct cld_msg) = 1034. */
export const CLD_MSG_V1_SIZE = CLD_HEADER_SIZE + CLD_UNION_V1_SIZE;
/** sizeof(struct cld_msg_v2) = 1067. */
export const CLD_MSG_V2_SIZE = CLD_HEADER_SIZE + CLD_UNION_V2_SIZE;

/** enum cld_command. */
export const CldCommand = {
  Create: 0,
  Remove: 1,
  Check: 2,
  GraceDone: 3,
  GraceStart: 4,
  GetVersion: 5,
} as const;
export type CldCommandName = keyof typeof CldCommand;
export type CldCommandCode = (typeof CldCommand)[CldCommandName];

const COMMAND_NAMES: readonly CldCommandName[] = ['Create', 'Remove', 'Check', 'GraceDone', 'GraceStart', 'GetVersion'];

export function cldCommandName(code: number): CldCommandName | undefined {
  return COMMAND_NAMES[code];
}

/**
 * cm_status values (negative Linux errnos) that nfsd or nfsdcld put on the wire.
 * The kernel only distinguishes 0, -EINPROGRESS and "anything else", but the value
 * ends up in its log, so each failure gets the errno that names it.
 */
export const CldStatus = {
  OK: 0,
  EPERM: -1,
  ENOENT: -2,
  EIO: -5,
  EACCES: -13,
  EINVAL: -22,
  ENAMETOOLONG: -36,
  EPROTONOSUPPORT: -93,
  EOPNOTSUPP: -95,
  EINPROGRESS: -115,
  EREMOTEIO: -121,
} as const;

/** Frame size for a cm_vers value, or undefined for a version we cannot parse. */
export function cldMessageSize(version: number): number | undefined {
  if (version === 1) return CLD_MSG_V1_SIZE;
  if (version === 2) return CLD_MSG_V2_SIZE;
  return undefined;
}
