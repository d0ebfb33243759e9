/**
 * Byte inputs of the data model: row keys, qualifiers and values are bytes; callers may pass a
 * string for convenience, which means its UTF-8 encoding.
 */
import { utf8 } from '../util/bytes.js';

export type Bytes = Uint8Array | string;

export function toBytes(b: Bytes): Uint8Array {
  return typeof b === 'string' ? utf8(b) : b;
}

/** A Map key for bytes: one UTF-16 code unit per byte (order-preserving, collision-free). */
export function bytesKey(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}
