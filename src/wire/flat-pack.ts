/**
 * A fast path of the frame encoder (encoder.ts) for the reply that dominates a serving node's
 * output: a map whose values are flat arrays of strings, numbers and byte arrays — a get's
 * `{ cells: [family, qualifier, timestamp, value, …] }`. msgpackr walks such a value one
 * element at a time through its general dispatch and allocates per byte array it writes; this
 * sizes the whole value first and writes it in one pass straight into the encoder's slab
 * (~0.5 µs for a 1.2 KB reply, where msgpackr took ~3.3 µs and the body's copy more).
 *
 * The bytes are exactly those msgpackr's Packr writes with the options codec.ts gives it
 * (checked on random values by flat-pack.test.ts), so nothing on the wire changes:
 * - a map of fewer than 16 keys is a fixmap (`variableMapSize`), in Object.keys order;
 * - an array is fixarray / array16 / array32 by length;
 * - a string is taken only when it is ASCII and shorter than 32 characters (a fixstr): longer
 *   or non-ASCII strings make msgpackr choose between header sizes by estimate, so they are
 *   left to it;
 * - a number that is a 32-bit unsigned or signed integer takes the smallest int format
 *   (positive fixint up to 127, as with `useRecords: false`), any other number float64;
 * - a byte array is bin8 / bin16 / bin32 by length.
 * Anything else — another type, a nested array, too many keys — is not taken (flatMapSize is
 * -1), and the caller encodes with msgpackr.
 */

/** Keys of a map the fast path takes (a fixmap holds at most 15). */
const mapKeysMax = 15;
const fixstrCharsMax = 31;

type Flat = string | number | Uint8Array;

function asciiFixstr(s: string): boolean {
  if (s.length > fixstrCharsMax) return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Encoded size of one element, or -1 when the fast path does not take it. */
function flatSize(v: unknown): number {
  if (typeof v === 'number') {
    if (v >>> 0 === v) return v < 0x80 ? 1 : v < 0x100 ? 2 : v < 0x10000 ? 3 : 5;
    if (v >> 0 === v) return v >= -0x20 ? 1 : v >= -0x80 ? 2 : v >= -0x8000 ? 3 : 5;
    return 9;
  }
  if (typeof v === 'string') return asciiFixstr(v) ? 1 + v.length : -1;
  if (v instanceof Uint8Array) {
    const n = v.length;
    return n + (n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);
  }
  return -1;
}

function arrayHeaderSize(n: number): number {
  return n < 16 ? 1 : n < 0x10000 ? 3 : 5;
}

/**
 * The encoded size of `value` when it is a plain object of at most 15 keys whose values are
 * all flat arrays of fixstr-sized ASCII strings, numbers and byte arrays, and the size is at
 * most `limitBytes`; -1 otherwise. Sizing stops as soon as the limit is passed, so a large
 * reply left to msgpackr is not walked twice in full.
 */
export function flatMapSize(value: unknown, limitBytes: number): number {
  if (
    typeof value !== 'object' ||
    value === null ||
    Object.getPrototypeOf(value) !== Object.prototype
  ) {
    return -1;
  }
  const obj = value as Record<string, unknown>;
  // The same key walk as writeFlatMap's, so both see the keys in the same order.
  const keys = Object.keys(obj);
  if (keys.length > mapKeysMax) return -1;
  let size = 1;
  for (const k of keys) {
    if (!asciiFixstr(k)) return -1;
    const items = obj[k];
    // Plain arrays only: msgpackr treats other array-likes its own ways.
    if (!Array.isArray(items) || Object.getPrototypeOf(items) !== Array.prototype) return -1;
    size += 1 + k.length + arrayHeaderSize(items.length);
    for (let i = 0; i < items.length && size <= limitBytes; i++) {
      const n = flatSize(items[i]);
      if (n < 0) return -1;
      size += n;
    }
    if (size > limitBytes) return -1;
  }
  return size;
}

/**
 * Writes `value` (for which flatMapSize gave `size` >= 0) at out[start, start + size); `view`
 * is a DataView of out's buffer (as out's own offset, 0).
 */
export function writeFlatMap(
  value: unknown,
  out: Uint8Array,
  view: DataView,
  start: number,
): number {
  const obj = value as Record<string, readonly Flat[]>;
  const keys = Object.keys(obj);
  let p = start;
  out[p++] = 0x80 | keys.length;
  for (const k of keys) {
    p = writeAscii(out, p, k);
    const items = obj[k]!;
    const n = items.length;
    if (n < 16) out[p++] = 0x90 | n;
    else p = writeTagged(out, view, p, n, 0xdc, 0xdd);
    for (let i = 0; i < n; i++) p = writeFlat(out, view, p, items[i]!);
  }
  return p;
}

function writeFlat(out: Uint8Array, view: DataView, p: number, v: Flat): number {
  if (typeof v === 'string') return writeAscii(out, p, v);
  if (typeof v === 'number') {
    if (v >>> 0 === v) {
      if (v < 0x80) {
        out[p++] = v;
      } else if (v < 0x100) {
        out[p++] = 0xcc;
        out[p++] = v;
      } else {
        p = writeTagged(out, view, p, v, 0xcd, 0xce);
      }
    } else if (v >> 0 === v) {
      if (v >= -0x20) {
        out[p++] = 0x100 + v;
      } else if (v >= -0x80) {
        out[p++] = 0xd0;
        out[p++] = v + 0x100;
      } else if (v >= -0x8000) {
        out[p++] = 0xd1;
        view.setInt16(p, v);
        p += 2;
      } else {
        out[p++] = 0xd2;
        view.setInt32(p, v);
        p += 4;
      }
    } else {
      out[p++] = 0xcb;
      view.setFloat64(p, v);
      p += 8;
    }
    return p;
  }
  const len = v.length;
  if (len < 0x100) {
    out[p++] = 0xc4;
    out[p++] = len;
  } else {
    p = writeTagged(out, view, p, len, 0xc5, 0xc6);
  }
  out.set(v, p);
  return p + len;
}

/** `n` (unsigned, < 2^32) after `tag16` as a big-endian uint16 when it fits, else `tag32` + uint32. */
function writeTagged(
  out: Uint8Array,
  view: DataView,
  p: number,
  n: number,
  tag16: number,
  tag32: number,
): number {
  if (n < 0x10000) {
    out[p] = tag16;
    view.setUint16(p + 1, n);
    return p + 3;
  }
  out[p] = tag32;
  view.setUint32(p + 1, n);
  return p + 5;
}

function writeAscii(out: Uint8Array, p: number, s: string): number {
  out[p++] = 0xa0 | s.length;
  for (let i = 0; i < s.length; i++) out[p++] = s.charCodeAt(i);
  return p;
}
