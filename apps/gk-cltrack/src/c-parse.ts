/**
 * Byte-for-byte mirrors of the two parsers nfsdcltrack relies on, so that every malformed
 * argument fails with the same errno: its hex_str_to_bin() and glibc's strtol(s, &end, 0).
 * Both work on the argument's bytes, as C sees argv.
 */

export const EINVAL = 22;
export const ENOBUFS = 105;
export const ERANGE = 34;

/** NFS4_OPAQUE_LIMIT: the largest client ID nfsdcltrack accepts. */
export const CLIENT_ID_LIMIT = 1024;

function hexDigit(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x61 + 10;
  if (b >= 0x41 && b <= 0x46) return b - 0x41 + 10;
  return -1;
}

/**
 * Pairs of hex digits to bytes. The checks run pair by pair in nfsdcltrack's order: a full
 * buffer is -ENOBUFS before the next pair is even looked at; an odd length or a non-hex
 * character is -EINVAL. So 1025 valid pairs give -ENOBUFS, but a bad digit early gives -EINVAL.
 */
export function hexToClientId(arg: string): { ok: true; id: Buffer } | { ok: false; errno: number } {
  const src = Buffer.from(arg, 'utf8');
  const out = Buffer.alloc(Math.min(src.length >> 1, CLIENT_ID_LIMIT));
  let n = 0;
  let i = 0;
  while (i < src.length) {
    if (n >= CLIENT_ID_LIMIT) return { ok: false, errno: ENOBUFS };
    const hi = hexDigit(src[i++]!);
    if (i >= src.length) return { ok: false, errno: EINVAL };
    const lo = hexDigit(src[i++]!);
    if (hi < 0 || lo < 0) return { ok: false, errno: EINVAL };
    out[n++] = (hi << 4) | lo;
  }
  return { ok: true, id: out.subarray(0, n) };
}

export const LONG_MAX = (1n << 63n) - 1n;
const LONG_MIN = -(1n << 63n);

/** glibc strtol(s, &end, 0) on a 64-bit long: value, errno (0 or ERANGE) and whether bytes follow the number. */
export function strtol0(s: string): { value: bigint; errno: number; trailing: boolean } {
  const b = Buffer.from(s, 'utf8');
  let i = 0;
  while (i < b.length && (b[i] === 0x20 || (b[i]! >= 0x09 && b[i]! <= 0x0d))) i++;
  let negative = false;
  if (b[i] === 0x2b || b[i] === 0x2d) negative = b[i++] === 0x2d;
  let base = 10;
  if (b[i] === 0x30) {
    const x = b[i + 1];
    if ((x === 0x78 || x === 0x58) && i + 2 < b.length && hexDigit(b[i + 2]!) >= 0) {
      base = 16;
      i += 2;
    } else {
      base = 8;
    }
  }
  const start = i;
  let magnitude = 0n;
  for (; i < b.length; i++) {
    const d = hexDigit(b[i]!);
    if (d < 0 || d >= base) break;
    magnitude = magnitude * BigInt(base) + BigInt(d);
  }
  // No digits at all: strtol returns 0 and leaves end at the very start of the string.
  if (i === start) return { value: 0n, errno: 0, trailing: b.length > 0 };
  const trailing = i < b.length;
  if (!negative && magnitude > LONG_MAX) return { value: LONG_MAX, errno: ERANGE, trailing };
  if (negative && -magnitude < LONG_MIN) return { value: LONG_MIN, errno: ERANGE, trailing };
  return { value: negative ? -magnitude : magnitude, errno: 0, trailing };
}
