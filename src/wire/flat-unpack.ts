/**
 * A fast path of the body decoder (codec.ts decodeValue) for the small values that make up
 * nearly all of a serving node's input and a client's replies: a get's `{ table, row }`, a
 * put's `{ table, mutation: { row, ops: [{ type, family, qualifier, value }] } }`, a get's
 * reply `{ cells: [family, qualifier, timestamp, value, …] }`. It is the mirror of
 * flat-pack.ts.
 *
 * msgpackr's `copyBuffers` copies every byte array on its own: a YCSB row's reply (ten
 * qualifiers, ten 100-byte values) cost ten ArrayBuffer backing stores, which V8 must then
 * track and sweep; reading a byte array was the top item of the benchmark client's profile
 * and, with the rest of msgpackr's decoding, ~8% of a node's CPU under YCSB A. Here a byte
 * array of up to 64 bytes gets a copy of its own (V8 keeps one that small on its heap, where a
 * copy is cheaper than a view), and the longer ones are views into one copy of the body, made
 * at the first of them. A view keeps the whole copy alive, so only bodies of at most
 * `flatBodyBytesMax` bytes are taken: whoever keeps one value of a reply pins at most that.
 *
 * The result equals msgpackr's with codec.ts's Unpackr options (checked against it on random
 * values and random bytes by flat-unpack.test.ts), except that byte arrays over 64 bytes share
 * a buffer. Taken:
 * - nil, false, true;
 * - positive and negative fixint, uint8/16/32, int8/16/32 (numbers), float64;
 * - strings (fixstr, str8, str16) whose bytes are all ASCII;
 * - bin8 / bin16 / bin32, as Uint8Arrays of the source's kind (a Buffer for a Buffer);
 * - arrays (fixarray, array16) and maps (fixmap, map16) with string keys, nested at most
 *   `depthMax` deep, as plain arrays and objects.
 * Anything else — 64-bit integers (bigints), float32, extension types, non-ASCII strings, a key
 * that is not a string or is `__proto__` (msgpackr renames it), 32-bit counts, truncated or
 * trailing bytes — is not taken: `flatUnpack` returns NOT_TAKEN and the caller decodes the
 * whole body with msgpackr, which also produces the error for a malformed one.
 */

import { readU16, readU32 } from './format.js';

/** Returned by flatUnpack when the fast path does not take the body. */
export const NOT_TAKEN: unique symbol = Symbol('NOT_TAKEN');

/** Bodies larger than this are left to msgpackr (see the file comment). */
export const flatBodyBytesMax = 64 * 1024;

const depthMax = 8;

/** Byte arrays up to this size get a copy of their own (V8 keeps them on its heap). */
const binOwnCopyBytesMax = 64;

/** Recently decoded short ASCII strings (map keys, table and family names), by a hash slot. */
const stringCacheSlots = 256;
const stringCacheLengthMax = 24;
const cachedBytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(
  stringCacheSlots,
).fill(undefined);
const cachedStrings: string[] = new Array<string>(stringCacheSlots).fill('');

/** Cursor state of one decode; module-level, as a decode never re-enters. */
let src: Uint8Array = new Uint8Array(0);
let pos = 0;
let limit = 0;
let bodyStart = 0;
/** The body's copy, made at its first byte array over 64 bytes; those are views into it. */
let copy: Uint8Array | undefined;
let failed = false;
/** The source is a Node Buffer (its byte arrays must be Buffers too). */
let srcIsBuffer = false;

/**
 * Decodes exactly one msgpack value from `buf[start, end)`, or returns NOT_TAKEN (see the file
 * comment). Never throws for any input.
 */
export function flatUnpack(buf: Uint8Array, start: number, end: number): unknown {
  if (end - start > flatBodyBytesMax || end <= start) return NOT_TAKEN;
  src = buf;
  srcIsBuffer = Buffer.isBuffer(buf);
  pos = start;
  limit = end;
  bodyStart = start;
  copy = undefined;
  failed = false;
  const value = read(0);
  const ok = !failed && pos === end;
  src = EMPTY;
  copy = undefined;
  return ok ? value : NOT_TAKEN;
}

const EMPTY = new Uint8Array(0);

function fail(): undefined {
  failed = true;
  pos = limit;
  return undefined;
}

/** True when `n` more bytes are there to read. */
function has(n: number): boolean {
  return pos + n <= limit;
}

function read(depth: number): unknown {
  if (pos >= limit) return fail();
  const b = src[pos++]!;
  if (b < 0x80) return b;
  if (b >= 0xe0) return b - 0x100;
  if (b < 0x90) return readMap(b & 0x0f, depth);
  if (b < 0xa0) return readArray(b & 0x0f, depth);
  if (b < 0xc0) return readString(b & 0x1f);
  switch (b) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      return has(1) ? readBin(src[pos++]!) : fail();
    case 0xc5:
      return has(2) ? readBin(takeU16()) : fail();
    case 0xc6:
      return has(4) ? readBin(takeU32()) : fail();
    case 0xcb:
      return has(8) ? readF64() : fail();
    case 0xcc:
      return has(1) ? src[pos++]! : fail();
    case 0xcd:
      return has(2) ? takeU16() : fail();
    case 0xce:
      return has(4) ? takeU32() : fail();
    case 0xd0:
      return has(1) ? (src[pos++]! << 24) >> 24 : fail();
    case 0xd1:
      return has(2) ? (takeU16() << 16) >> 16 : fail();
    case 0xd2:
      return has(4) ? takeU32() | 0 : fail();
    case 0xd9:
      return has(1) ? readString(src[pos++]!) : fail();
    case 0xda:
      return has(2) ? readString(takeU16()) : fail();
    case 0xdc:
      return has(2) ? readArray(takeU16(), depth) : fail();
    case 0xde:
      return has(2) ? readMap(takeU16(), depth) : fail();
    default:
      // 0xc1 (never used), ext, float32, 64-bit integers, str32, array32, map32.
      return fail();
  }
}

/** The next 2 bytes as a big-endian unsigned integer (the caller checked they are there). */
function takeU16(): number {
  const v = readU16(src, pos);
  pos += 2;
  return v;
}

/** The next 4 bytes as a big-endian unsigned integer (the caller checked they are there). */
function takeU32(): number {
  const v = readU32(src, pos);
  pos += 4;
  return v;
}

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function readF64(): number {
  for (let i = 0; i < 8; i++) f64Bytes[littleEndian ? 7 - i : i] = src[pos + i]!;
  pos += 8;
  return f64[0]!;
}

function readBin(n: number): Uint8Array | undefined {
  if (!has(n)) return fail();
  const from = pos;
  pos += n;
  // A small array lives on V8's heap, where a copy of its own is cheaper than a view, which
  // would move the whole body's copy off the heap.
  if (n <= binOwnCopyBytesMax) return copyOf(src, from, pos);
  copy ??= copyOf(src, bodyStart, limit);
  return copy.subarray(from - bodyStart, pos - bodyStart);
}

function readString(n: number): string | undefined {
  if (!has(n)) return fail();
  const at = pos;
  if (n <= stringCacheLengthMax) {
    let h = n;
    for (let i = 0; i < n; i++) {
      const c = src[at + i]!;
      if (c >= 0x80) return fail();
      h = (h * 31 + c) | 0;
    }
    const slot = h & (stringCacheSlots - 1);
    const bytes = cachedBytes[slot];
    if (bytes !== undefined && bytes.length === n && sameBytes(bytes, at)) {
      pos += n;
      return cachedStrings[slot]!;
    }
    const s = asciiString(at, n);
    cachedBytes[slot] = copyOf(src, at, at + n);
    cachedStrings[slot] = s;
    pos += n;
    return s;
  }
  for (let i = 0; i < n; i++) if (src[at + i]! >= 0x80) return fail();
  pos += n;
  return asciiString(at, n);
}

/** A copy of `buf[from, to)` of the source's kind (Buffer's own `slice` would be a view). */
function copyOf(buf: Uint8Array, from: number, to: number): Uint8Array {
  if (!srcIsBuffer) return buf.slice(from, to);
  const out = Buffer.allocUnsafeSlow(to - from);
  out.set(buf.subarray(from, to));
  return out;
}

function sameBytes(bytes: Uint8Array, at: number): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== src[at + i]) return false;
  return true;
}

function asciiString(at: number, n: number): string {
  if (n <= 64) {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(src[at + i]!);
    return s;
  }
  return asciiDecoder.decode(src.subarray(at, at + n));
}

const asciiDecoder = new TextDecoder();

function readArray(n: number, depth: number): unknown[] | undefined {
  if (depth >= depthMax || !has(n)) return fail();
  const out = new Array<unknown>(n);
  for (let i = 0; i < n; i++) {
    out[i] = read(depth + 1);
    if (failed) return undefined;
  }
  return out;
}

function readMap(n: number, depth: number): Record<string, unknown> | undefined {
  if (depth >= depthMax || !has(2 * n)) return fail();
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const b = src[pos]!;
    let key: string | undefined;
    if (b >= 0xa0 && b < 0xc0) {
      pos++;
      key = readString(b & 0x1f);
    } else if (b === 0xd9 && has(2)) {
      pos++;
      key = readString(src[pos++]!);
    } else return fail();
    if (failed) return undefined;
    if (key === '__proto__') return fail();
    out[key!] = read(depth + 1);
    if (failed) return undefined;
  }
  return out;
}
