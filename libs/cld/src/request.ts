import { type Endianness, HOST_ENDIANNESS, readS64, readU16, readU32 } from './byte-order';
import {
  CLD_HEADER_SIZE,
  CldCommand,
  type CldCommandName,
  cldCommandName,
  cldMessageSize,
  CldStatus,
  type CldVersion,
  NFS4_OPAQUE_LIMIT,
  OFF_CMD,
  OFF_NAME_DATA,
  OFF_NAME_LEN,
  OFF_PRINCHASH_DATA,
  OFF_PRINCHASH_LEN,
  OFF_UNION,
  OFF_VERS,
  OFF_XID,
  SHA256_DIGEST_SIZE,
} from './constants';

/** What every decoded upcall carries; `raw` is a private copy, the template of every reply. */
interface CldRequestBase {
  version: CldVersion;
  xid: number;
  /** Byte length of the request; every reply to it has exactly this length. */
  length: number;
  endianness: Endianness;
  raw: Buffer;
}

export type CldRequest =
  /** principalHash: SHA-256 of the client's principal (v2 only); null if none was sent. */
  | (CldRequestBase & { cmd: 'Create'; name: Buffer; principalHash: Buffer | null })
  | (CldRequestBase & { cmd: 'Remove'; name: Buffer })
  | (CldRequestBase & { cmd: 'Check'; name: Buffer; principalHash: Buffer | null })
  /** graceTime: cm_gracetime of v1 (pre-4.20 kernels send their boot time); null in v2, which has no such field. */
  | (CldRequestBase & { cmd: 'GraceDone'; graceTime: bigint | null })
  | (CldRequestBase & { cmd: 'GraceStart' })
  | (CldRequestBase & { cmd: 'GetVersion' });

/** An upcall too short to hold a header: there is no xid to answer to. */
export interface CldTruncatedError {
  replyable: false;
  kind: 'truncated';
  message: string;
  length: number;
  raw: Buffer;
}

/** An upcall we refuse; it is answered with `status`, echoing its xid and length. */
export interface CldRejectedRequest {
  replyable: true;
  kind: 'unsupported-version' | 'bad-length' | 'unknown-command' | 'name-too-long' | 'empty-name' | 'bad-principal-hash';
  message: string;
  /** The cm_status of the reply (a negative errno). */
  status: number;
  version: number;
  cmd: number;
  xid: number;
  length: number;
  endianness: Endianness;
  raw: Buffer;
}

export type CldDecodeError = CldTruncatedError | CldRejectedRequest;
export type CldDecodeResult = { ok: true; value: CldRequest } | { ok: false; error: CldDecodeError };

/**
 * Parses one upcall (one pipe read, or one frame from the socket framer). Never throws:
 * anything malformed comes back as a typed error that says how to answer it.
 */
export function decodeRequest(input: Uint8Array, endianness: Endianness = HOST_ENDIANNESS): CldDecodeResult {
  const raw = Buffer.from(input); // a copy: callers reuse their read buffers
  const length = raw.length;
  if (length < CLD_HEADER_SIZE) {
    return fail({ replyable: false, kind: 'truncated', message: `cld message of ${length} bytes has no header`, length, raw });
  }
  const version = raw[OFF_VERS]!;
  const cmd = raw[OFF_CMD]!;
  const xid = readU32(raw, OFF_XID, endianness);
  const reject = (kind: CldRejectedRequest['kind'], status: number, message: string): CldDecodeResult =>
    fail({ replyable: true, kind, status, message, version, cmd, xid, length, endianness, raw });

  const expected = cldMessageSize(version);
  if (expected === undefined) {
    return reject('unsupported-version', CldStatus.EPROTONOSUPPORT, `unsupported cld upcall version ${version}`);
  }
  if (length !== expected) {
    return reject('bad-length', CldStatus.EINVAL, `cld v${version} message must be ${expected} bytes, got ${length}`);
  }
  const name = cldCommandName(cmd);
  if (name === undefined) {
    return reject('unknown-command', CldStatus.EOPNOTSUPP, `unknown cld command ${cmd}`);
  }
  const base: CldRequestBase = { version: version as CldVersion, xid, length, endianness, raw };
  return decodeBody(base, name, reject);
}

type Reject = (kind: CldRejectedRequest['kind'], status: number, message: string) => CldDecodeResult;

function decodeBody(base: CldRequestBase, cmd: CldCommandName, reject: Reject): CldDecodeResult {
  const { raw, endianness, version } = base;
  switch (cmd) {
    case 'GraceStart':
    case 'GetVersion':
      return { ok: true, value: { ...base, cmd } };
    case 'GraceDone':
      return { ok: true, value: { ...base, cmd, graceTime: version === 1 ? readS64(raw, OFF_UNION, endianness) : null } };
    case 'Remove':
    case 'Create':
    case 'Check': {
      const nameLength = readU16(raw, OFF_NAME_LEN, endianness);
      if (nameLength === 0) return reject('empty-name', CldStatus.EINVAL, `cld ${cmd} with an empty client name`);
      if (nameLength > NFS4_OPAQUE_LIMIT) {
        return reject('name-too-long', CldStatus.ENAMETOOLONG, `cld ${cmd} client name of ${nameLength} bytes exceeds ${NFS4_OPAQUE_LIMIT}`);
      }
      const name = Buffer.from(raw.subarray(OFF_NAME_DATA, OFF_NAME_DATA + nameLength));
      // The kernel never fills cc_princhash on Remove (it sends a bare cld_name), so it is not read there.
      if (cmd === 'Remove') return { ok: true, value: { ...base, cmd, name } };
      if (version === 1) return { ok: true, value: { ...base, cmd, name, principalHash: null } };
      const hashLength = raw[OFF_PRINCHASH_LEN]!;
      if (hashLength > SHA256_DIGEST_SIZE) {
        return reject('bad-principal-hash', CldStatus.EINVAL, `cld ${cmd} principal hash of ${hashLength} bytes exceeds ${SHA256_DIGEST_SIZE}`);
      }
      const principalHash = hashLength === 0 ? null : Buffer.from(raw.subarray(OFF_PRINCHASH_DATA, OFF_PRINCHASH_DATA + hashLength));
      return { ok: true, value: { ...base, cmd, name, principalHash } };
    }
  }
}

function fail(error: CldDecodeError): CldDecodeResult {
  return { ok: false, error };
}

/** The command code a request or rejected request carried, as on the wire. */
export function requestCommandCode(source: CldRequest | CldRejectedRequest): number {
  return 'replyable' in source ? source.cmd : CldCommand[source.cmd];
}

