/**
 * The kernel's half of the protocol: build upcalls and read downcalls as nfsd does.
 * Used by kernel simulators, tests and the benchmark, never by the agent's answer path.
 */
import { type Endianness, HOST_ENDIANNESS, readS16, readU16, readU32, writeS64, writeU16, writeU32 } from './byte-order';
import {
  CLD_HEADER_SIZE,
  CldCommand,
  type CldCommandName,
  cldMessageSize,
  type CldVersion,
  NFS4_OPAQUE_LIMIT,
  OFF_CMD,
  OFF_NAME_DATA,
  OFF_NAME_LEN,
  OFF_PRINCHASH_DATA,
  OFF_PRINCHASH_LEN,
  OFF_STATUS,
  OFF_UNION,
  OFF_VERS,
  OFF_XID,
  SHA256_DIGEST_SIZE,
} from './constants';

export interface CldUpcallSpec {
  version: CldVersion;
  /** A command name, or any u8 (to test unknown commands). */
  cmd: CldCommandName | number;
  xid: number;
  /** cld_name for Create/Remove/Check. */
  name?: Uint8Array;
  /** cc_princhash (v2 Create); ignored for v1, which has no such field. */
  principalHash?: Uint8Array | null;
  /** cm_gracetime (v1 GraceDone from pre-4.20 kernels). */
  graceTime?: bigint;
}

/** An upcall as nfsd builds it: a zeroed message of the version's size with the given fields set. */
export function encodeUpcall(spec: CldUpcallSpec, endianness: Endianness = HOST_ENDIANNESS): Buffer {
  const out = Buffer.alloc(cldMessageSize(spec.version)!);
  out[OFF_VERS] = spec.version;
  out[OFF_CMD] = typeof spec.cmd === 'number' ? spec.cmd : CldCommand[spec.cmd];
  writeU32(out, spec.xid, OFF_XID, endianness);
  if (spec.graceTime !== undefined) {
    if (spec.version !== 1) throw new RangeError('cm_gracetime exists only in v1 messages');
    writeS64(out, spec.graceTime, OFF_UNION, endianness);
  }
  if (spec.name) {
    if (spec.name.length > NFS4_OPAQUE_LIMIT) throw new RangeError(`client name longer than ${NFS4_OPAQUE_LIMIT} bytes`);
    writeU16(out, spec.name.length, OFF_NAME_LEN, endianness);
    out.set(spec.name, OFF_NAME_DATA);
  }
  if (spec.version === 2 && spec.principalHash) {
    if (spec.principalHash.length > SHA256_DIGEST_SIZE) throw new RangeError(`principal hash longer than ${SHA256_DIGEST_SIZE} bytes`);
    out[OFF_PRINCHASH_LEN] = spec.principalHash.length;
    out.set(spec.principalHash, OFF_PRINCHASH_DATA);
  }
  return out;
}

/** A downcall seen through every member of the union; which one matters depends on the command. */
export interface CldDowncall {
  version: CldVersion;
  cmd: number;
  status: number;
  xid: number;
  length: number;
  /** cm_u.cm_version (GetVersion). */
  cmVersion: number;
  /** cld_name when cn_len is 1..1024 (GraceStart -EINPROGRESS replies), else null. */
  name: Buffer | null;
  /** v2 cc_princhash when cp_len is 1..32, else null. */
  principalHash: Buffer | null;
}

export type CldDowncallResult = { ok: true; value: CldDowncall } | { ok: false; error: string };

/** Reads a downcall with the checks cld_pipe_downcall makes on length and header. */
export function decodeDowncall(input: Uint8Array, endianness: Endianness = HOST_ENDIANNESS): CldDowncallResult {
  const buf = Buffer.from(input);
  if (buf.length < CLD_HEADER_SIZE) return { ok: false, error: `downcall of ${buf.length} bytes has no header` };
  const version = buf[OFF_VERS]!;
  const size = cldMessageSize(version);
  if (size === undefined) return { ok: false, error: `downcall has unsupported version ${version}` };
  if (buf.length !== size) return { ok: false, error: `v${version} downcall must be ${size} bytes, got ${buf.length}` };
  const nameLength = readU16(buf, OFF_NAME_LEN, endianness);
  const hashLength = version === 2 ? buf[OFF_PRINCHASH_LEN]! : 0;
  return {
    ok: true,
    value: {
      version: version as CldVersion,
      cmd: buf[OFF_CMD]!,
      status: readS16(buf, OFF_STATUS, endianness),
      xid: readU32(buf, OFF_XID, endianness),
      length: buf.length,
      cmVersion: buf[OFF_UNION]!,
      name: nameLength >= 1 && nameLength <= NFS4_OPAQUE_LIMIT ? Buffer.from(buf.subarray(OFF_NAME_DATA, OFF_NAME_DATA + nameLength)) : null,
      principalHash:
        hashLength >= 1 && hashLength <= SHA256_DIGEST_SIZE ? Buffer.from(buf.subarray(OFF_PRINCHASH_DATA, OFF_PRINCHASH_DATA + hashLength)) : null,
    },
  };
}
