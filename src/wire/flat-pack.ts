/**
 * A fast path of the frame encoder (encoder.ts) for the replies that dominate a serving node's
 * output, and for small requests (a client's puts): plain objects and arrays of strings,
 * numbers, booleans and byte arrays — a get's
 * `{ cells: [family, qualifier, timestamp, value, …] }`, a scan's `{ scanner, rows: [{ row,
 * cells }, …], done }`. msgpackr walks such a value one element at a time through its general
 * dispatch and allocates per byte array it writes; this sizes the whole value first and writes
 * it in one pass, straight into the encoder's slab when it is small (~0.5 µs for the 1.2 KB
 * reply of a YCSB row, where msgpackr took ~3.3 µs and the body's copy more), into one array of
 * exactly its size when it is not (a scan's batch: msgpackr's encoding of those was a third of
 * the node's CPU under YCSB E).
 *
 * The bytes are exactly those msgpackr's Packr writes with the options codec.ts gives it
 * (checked on random values by flat-pack.test.ts), so nothing on the wire changes:
 * - a plain object of fewer than 16 keys is a fixmap (`variableMapSize`), in Object.keys
 *   order, its keys ASCII strings shorter than 32 characters;
 * - a plain array is fixarray / array16 / array32 by length;
 * - a string is taken only when it is ASCII and shorter than 32 characters (a fixstr): longer
 *   or non-ASCII strings make msgpackr choose between header sizes by estimate, so they are
 *   left to it;
 * - a number that is a 32-bit unsigned or signed integer takes the smallest int format
 *   (positive fixint up to 127, as with `useRecords: false`), any other number float64;
 * - a boolean is true / false; a byte array is bin8 / bin16 / bin32 by length.
 * Anything else — another type, more keys, nesting deeper than depthMax — is not taken
 * (packedSize is -1), and the caller encodes the whole value with msgpackr.
 */

/** Keys of a map the fast path takes (a fixmap holds at most 15). */
const mapKeysMax = 15;
const fixstrCharsMax = 31;
/** Containers nested deeper than this are left to msgpackr (a scan reply nests three). */
const depthMax = 4;

function asciiFixstr(s: string): boolean {
  if (s.length > fixstrCharsMax) return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function arrayHeaderSize(n: number): number {
  return n < 16 ? 1 : n < 0x10000 ? 3 : 5;
}

/**
 * Encoded size of `v`, or -1 when the fast path does not take it. A container stops sizing
 * (-1) once it passes `limit`, so a value too large for the fast path, which msgpackr will walk
 * anyway, is not walked in full first.
 */
function valueSize(v: unknown, depth: number, limit: number): number {
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
  if (typeof v === 'boolean') return 1;
  if (typeof v !== 'object' || v === null || depth >= depthMax) return -1;
  const proto = Object.getPrototypeOf(v);
  if (proto === Array.prototype) {
    // Plain arrays only: msgpackr treats other array-likes its own ways.
    const items = v as readonly unknown[];
    let size = arrayHeaderSize(items.length);
    for (let i = 0; i < items.length && size <= limit; i++) {
      const n = valueSize(items[i], depth + 1, limit - size);
      if (n < 0) return -1;
      size += n;
    }
    return size <= limit ? size : -1;
  }
  if (proto !== Object.prototype) return -1;
  const obj = v as Record<string, unknown>;
  // The same key walk as writeValue's, so both see the keys in the same order.
  const keys = Object.keys(obj);
  if (keys.length > mapKeysMax) return -1;
  let size = 1;
  for (const k of keys) {
    if (!asciiFixstr(k) || size > limit) return -1;
    const n = valueSize(obj[k], depth + 1, limit - size);
    if (n < 0) return -1;
    size += 1 + k.length + n;
  }
  return size <= limit ? size : -1;
}

/**
 * The encoded size of `value` when it is a plain object the fast path takes (see above) and
 * the size is at most `limitBytes`; -1 otherwise.
 */
export function packedSize(value: unknown, limitBytes: number): number {
  if (typeof value !== 'object' || value === null) return -1;
  if (Object.getPrototypeOf(value) !== Object.prototype) return -1;
  const size = valueSize(value, 0, limitBytes);
  return size <= limitBytes ? size : -1;
}

/**
 * Writes `value` (for which packedSize gave `size` >= 0) at out[start, start + size); `view`
 * is a DataView of out's buffer (as out's own offset, 0). Returns the end.
 */
export function writePacked(
  value: unknown,
  out: Uint8Array,
  view: DataView,
  start: number,
): number {
  return writeValue(out, view, start, value);
}

function writeValue(out: Uint8Array, view: DataView, p: number, v: unknown): number {
  if (typeof v === 'string') return writeAscii(out, p, v);
  if (typeof v === 'number') return writeNumber(out, view, p, v);
  if (v instanceof Uint8Array) {
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
  if (typeof v === 'boolean') {
    out[p] = v ? 0xc3 : 0xc2;
    return p + 1;
  }
  if (Array.isArray(v)) {
    const n = v.length;
    if (n < 16) out[p++] = 0x90 | n;
    else p = writeTagged(out, view, p, n, 0xdc, 0xdd);
    for (let i = 0; i < n; i++) p = writeValue(out, view, p, v[i]);
    return p;
  }
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj);
  out[p++] = 0x80 | keys.length;
  for (const k of keys) {
    p = writeAscii(out, p, k);
    p = writeValue(out, view, p, obj[k]);
  }
  return p;
}

function writeNumber(out: Uint8Array, view: DataView, p: number, v: number): number {
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
