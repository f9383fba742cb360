import { writeS16, writeU16 } from './byte-order';
import {
  CLD_MAX_VERSION,
  CldStatus,
  NFS4_OPAQUE_LIMIT,
  OFF_NAME_DATA,
  OFF_NAME_LEN,
  OFF_PRINCHASH_DATA,
  OFF_PRINCHASH_LEN,
  OFF_STATUS,
  OFF_UNION,
  SHA256_DIGEST_SIZE,
} from './constants';
import type { CldRejectedRequest, CldRequest } from './request';

export type CldReply =
  /** The final answer to any upcall: 0 or a negative errno. */
  | { kind: 'status'; status: number }
  /** The answer to GetVersion: status 0 and the highest version we speak in cm_version. */
  | { kind: 'version'; version?: number }
  /** One reclaimable client during GraceStart (status -EINPROGRESS); a 'status' reply ends the stream. */
  | { kind: 'client'; name: Uint8Array; principalHash?: Uint8Array | null };

/**
 * Builds a downcall the way nfsdcld does: the request's own bytes (so cm_vers, cm_cmd,
 * cm_xid and the length are echoed, as cld_pipe_downcall requires) with cm_status set,
 * cm_version set for GetVersion, and for a GraceStart client the union cleared and
 * refilled. A v1 kernel has no cc_princhash, so a principal hash is not sent to it.
 * Throws RangeError on a reply that does not fit the request (a caller bug).
 */
export function encodeReply(source: CldRequest | CldRejectedRequest, reply: CldReply): Buffer {
  const out = Buffer.from(source.raw);
  const e = source.endianness;
  switch (reply.kind) {
    case 'status':
      writeS16(out, checkStatus(reply.status), OFF_STATUS, e);
      return out;
    case 'version': {
      requireCommand(source, 'GetVersion');
      const version = reply.version ?? CLD_MAX_VERSION;
      if (!Number.isInteger(version) || version < 1 || version > 255) throw new RangeError(`cm_version ${version} is not a u8 >= 1`);
      writeS16(out, CldStatus.OK, OFF_STATUS, e);
      out[OFF_UNION] = version;
      return out;
    }
    case 'client': {
      requireCommand(source, 'GraceStart');
      const { name, principalHash } = reply;
      if (name.length === 0 || name.length > NFS4_OPAQUE_LIMIT) {
        throw new RangeError(`client name must be 1..${NFS4_OPAQUE_LIMIT} bytes, got ${name.length}`);
      }
      writeS16(out, CldStatus.EINPROGRESS, OFF_STATUS, e);
      out.fill(0, OFF_UNION);
      writeU16(out, name.length, OFF_NAME_LEN, e);
      out.set(name, OFF_NAME_DATA);
      if (source.version === 2 && principalHash && principalHash.length > 0) {
        if (principalHash.length > SHA256_DIGEST_SIZE) {
          throw new RangeError(`principal hash must be at most ${SHA256_DIGEST_SIZE} bytes, got ${principalHash.length}`);
        }
        out[OFF_PRINCHASH_LEN] = principalHash.length;
        out.set(principalHash, OFF_PRINCHASH_DATA);
      }
      return out;
    }
  }
}

/** The reply a rejected upcall gets: its own bytes with the error's status. */
export function encodeErrorReply(error: CldRejectedRequest): Buffer {
  return encodeReply(error, { kind: 'status', status: error.status });
}

function checkStatus(status: number): number {
  if (!Number.isInteger(status) || status < -32768 || status > 32767) throw new RangeError(`cm_status ${status} is not an s16`);
  return status;
}

function requireCommand(source: CldRequest | CldRejectedRequest, cmd: 'GetVersion' | 'GraceStart'): void {
  if ('replyable' in source || source.cmd !== cmd) throw new RangeError(`this reply only answers ${cmd}`);
}

/**
 * The replies to one GraceStart upcall, built as nfsdcld builds them: it reuses one buffer, so
 * the final status reply still carries the last client sent (the kernel reads only cm_status
 * from it). Holds one frame, so a long client list can be streamed.
 */
export class GraceStartReplies {
  private last: Buffer;

  constructor(private readonly request: CldRequest) {
    requireCommand(request, 'GraceStart');
    this.last = request.raw;
  }

  /** One reclaimable client (status -EINPROGRESS). */
  client(name: Uint8Array, principalHash?: Uint8Array | null): Buffer {
    this.last = encodeReply(this.request, { kind: 'client', name, principalHash });
    return this.last;
  }

  /** The reply that ends the stream: 0, or a negative errno if listing the clients failed. */
  end(status: number = CldStatus.OK): Buffer {
    const out = Buffer.from(this.last);
    writeS16(out, checkStatus(status), OFF_STATUS, this.request.endianness);
    return out;
  }
}
