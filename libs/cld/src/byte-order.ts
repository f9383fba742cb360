import { endianness } from 'node:os';

/** cld messages use the host's byte order; tests pass the other one to prove nothing is hard-coded. */
export type Endianness = 'LE' | 'BE';
export const HOST_ENDIANNESS: Endianness = endianness();

export function readU16(buf: Buffer, off: number, e: Endianness): number {
  return e === 'LE' ? buf.readUInt16LE(off) : buf.readUInt16BE(off);
}
export function writeU16(buf: Buffer, value: number, off: number, e: Endianness): void {
  if (e === 'LE') buf.writeUInt16LE(value, off);
  else buf.writeUInt16BE(value, off);
}
export function readS16(buf: Buffer, off: number, e: Endianness): number {
  return e === 'LE' ? buf.readInt16LE(off) : buf.readInt16BE(off);
}
export function writeS16(buf: Buffer, value: number, off: number, e: Endianness): void {
  if (e === 'LE') buf.writeInt16LE(value, off);
  else buf.writeInt16BE(value, off);
}
export function readU32(buf: Buffer, off: number, e: Endianness): number {
  return e === 'LE' ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
}
export function writeU32(buf: Buffer, value: number, off: number, e: Endianness): void {
  if (e === 'LE') buf.writeUInt32LE(value, off);
  else buf.writeUInt32BE(value, off);
}
export function readS64(buf: Buffer, off: number, e: Endianness): bigint {
  return e === 'LE' ? buf.readBigInt64LE(off) : buf.readBigInt64BE(off);
}
export function writeS64(buf: Buffer, value: bigint, off: number, e: Endianness): void {
  if (e === 'LE') buf.writeBigInt64LE(value, off);
  else buf.writeBigInt64BE(value, off);
}
