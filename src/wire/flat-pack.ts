/**
 * A fast path of encodeValue (codec.ts) for the reply that dominates a serving node's output: a
 * map whose values are flat arrays of strings, numbers and byte arrays — a get's
 * `{ cells: [family, qualifier, timestamp, value, …] }`. msgpackr walks such a value one
 * element at a time through its general dispatch (and allocates per byte array it writes);
 * this sizes the whole value first and writes it in one pass into a buffer of its own.
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
 * Anything else — another type, a nested array, too many keys — returns undefined, and the
 * caller encodes with msgpackr.
 */

import { FRAME_BYTES_CEILING } from './format.js';

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
 * `value` as MessagePack when it is a plain object of at most 15 keys whose values are all
 * flat arrays of fixstr-sized ASCII strings, numbers and byte arrays; undefined otherwise.
 */
export function packFlatMap(value: unknown): Uint8Array | undefined {
  if (
    typeof value !== 'object' ||
    value === null ||
    Object.getPrototypeOf(value) !== Object.prototype
  ) {
    return undefined;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length > mapKeysMax) return undefined;
  let size = 1;
  for (const k of keys) {
    if (!asciiFixstr(k)) return undefined;
    const items = obj[k];
    if (!Array.isArray(items)) return undefined;
    size += 1 + k.length + arrayHeaderSize(items.length);
    for (let i = 0; i < items.length; i++) {
      const n = flatSize(items[i]);
      if (n < 0) return undefined;
      size += n;
    }
  }
  // Larger than any frame may be: msgpackr encodes it, and the frame check refuses it.
  if (size > FRAME_BYTES_CEILING) return undefined;
  const { out, view, start } = claim(size);
  let p = start;
  out[p++] = 0x80 | keys.length;
  for (const k of keys) {
    p = writeAscii(out, p, k);
    const items = obj[k] as readonly Flat[];
    const n = items.length;
    if (n < 16) {
      out[p++] = 0x90 | n;
    } else if (n < 0x10000) {
      out[p++] = 0xdc;
      view.setUint16(p, n);
      p += 2;
    } else {
      out[p++] = 0xdd;
      view.setUint32(p, n);
      p += 4;
    }
    for (let i = 0; i < n; i++) {
      const v = items[i]!;
      if (typeof v === 'string') {
        p = writeAscii(out, p, v);
      } else if (typeof v === 'number') {
        if (v >>> 0 === v) {
          if (v < 0x80) {
            out[p++] = v;
          } else if (v < 0x100) {
            out[p++] = 0xcc;
            out[p++] = v;
          } else if (v < 0x10000) {
            out[p++] = 0xcd;
            view.setUint16(p, v);
            p += 2;
          } else {
            out[p++] = 0xce;
            view.setUint32(p, v);
            p += 4;
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
      } else {
        const len = v.length;
        if (len < 0x100) {
          out[p++] = 0xc4;
          out[p++] = len;
        } else if (len < 0x10000) {
          out[p++] = 0xc5;
          view.setUint16(p, len);
          p += 2;
        } else {
          out[p++] = 0xc6;
          view.setUint32(p, len);
          p += 4;
        }
        out.set(v, p);
        p += len;
      }
    }
  }
  return out.subarray(start, p);
}

function writeAscii(out: Uint8Array, p: number, s: string): number {
  out[p++] = 0xa0 | s.length;
  for (let i = 0; i < s.length; i++) out[p++] = s.charCodeAt(i);
  return p;
}

/**
 * Output space: values are written into a shared slab and handed out as views of it, never
 * written over (a new slab replaces a full one), as msgpackr does with its own buffer — a
 * fresh array per value cost more than the encoding (~1.7 µs for a 1.2 KB reply). A value
 * larger than a quarter of a slab gets an array of its own.
 */
const slabBytes = 256 * 1024;
let slab = new Uint8Array(0);
let slabView = new DataView(slab.buffer);
let slabPos = 0;

function claim(size: number): { out: Uint8Array; view: DataView; start: number } {
  if (size > slabBytes / 4) {
    const out = new Uint8Array(size);
    return { out, view: new DataView(out.buffer), start: 0 };
  }
  if (slabPos + size > slab.length) {
    slab = new Uint8Array(slabBytes);
    slabView = new DataView(slab.buffer);
    slabPos = 0;
  }
  const start = slabPos;
  slabPos += size;
  return { out: slab, view: slabView, start };
}
