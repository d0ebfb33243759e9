/**
 * Internal keys: how a cell's coordinates become one byte string whose plain byte order is the
 * data model's sort order (row ascending, family ascending, qualifier ascending, timestamp
 * descending, kind), followed by the write's sequence number descending so that, for the same
 * cell, the newest write comes first. Byte layout and worked example: docs/formats/keys.md.
 *
 *     internal key = cell key | seqInv (8 bytes, big-endian, maxSequence - seq)
 *     cell key     = esc(row) 00 01 | esc(family) 00 01 | esc(qualifier) 00 01
 *                  | tsInv (8 bytes, big-endian, maxTimestamp - timestamp) | kind (1 byte)
 *     esc(x)       = x with every 00 byte written as 00 FF
 *
 * The escaping keeps variable-length parts ordered ("a" < "a\0" < "ab") without a comparator:
 * memtables, blocks and merges all compare with plain byte order.
 *
 * Kind codes are persisted and frozen. At one timestamp, deletes sort before the put they mask.
 * A row tombstone uses the empty family (real families are never empty) so it precedes every
 * family of its row; a family tombstone uses the empty qualifier, so it precedes every column
 * it can mask except versions of the empty qualifier newer than itself (see row-resolver.ts).
 */
import { assert } from '../util/assert.js';
import { corruption, invalidArgument } from '../util/errors.js';

export const Kind = {
  DeleteRow: 0,
  DeleteFamily: 1,
  DeleteColumn: 2,
  DeleteVersion: 3,
  Put: 4,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export const kindNames = ['DeleteRow', 'DeleteFamily', 'DeleteColumn', 'DeleteVersion', 'Put'];

/** Timestamps are integer microseconds in [0, maxTimestamp]. */
export const maxTimestamp = Number.MAX_SAFE_INTEGER;
/** Sequence numbers are integers in [0, maxSequence]; seq 0 is never written. */
export const maxSequence = Number.MAX_SAFE_INTEGER;

const seqBytes = 8;
const tsBytes = 8;
const trailerBytes = tsBytes + 1; // tsInv + kind at the end of a cell key

export interface CellCoordinates {
  readonly row: Uint8Array;
  readonly family: Uint8Array;
  readonly qualifier: Uint8Array;
  readonly timestamp: number;
  readonly kind: Kind;
}

export interface ParsedKey extends CellCoordinates {
  readonly seq: number;
}

function escapedLength(x: Uint8Array): number {
  let n = x.length + 2;
  for (let i = 0; i < x.length; i++) if (x[i] === 0) n++;
  return n;
}

function writeEscaped(out: Uint8Array, at: number, x: Uint8Array): number {
  for (let i = 0; i < x.length; i++) {
    const b = x[i]!;
    out[at++] = b;
    if (b === 0) out[at++] = 0xff;
  }
  out[at++] = 0;
  out[at++] = 1;
  return at;
}

function writeBigEndian56(out: Uint8Array, at: number, v: number): void {
  // v < 2^53: the top byte is always zero; write 8 bytes big-endian.
  let hi = Math.floor(v / 0x1_0000_0000);
  let lo = v >>> 0;
  for (let i = 3; i >= 0; i--) {
    out[at + i] = hi & 0xff;
    hi >>>= 8;
  }
  for (let i = 7; i >= 4; i--) {
    out[at + i] = lo & 0xff;
    lo >>>= 8;
  }
}

function readBigEndian56(b: Uint8Array, at: number): number {
  const hi = ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
  const lo = ((b[at + 4]! << 24) | (b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!) >>> 0;
  return hi * 0x1_0000_0000 + lo;
}

export function checkTimestamp(ts: number): void {
  if (!Number.isInteger(ts) || ts < 0 || ts > maxTimestamp) {
    throw invalidArgument(`timestamp ${ts} is not an integer in [0, 2^53)`, { timestamp: ts });
  }
}

/** The cell key of a cell (an internal key without its sequence number). */
export function encodeCellKey(c: CellCoordinates): Uint8Array {
  const n = escapedLength(c.row) + escapedLength(c.family) + escapedLength(c.qualifier);
  const out = new Uint8Array(n + trailerBytes);
  let at = writeEscaped(out, 0, c.row);
  at = writeEscaped(out, at, c.family);
  at = writeEscaped(out, at, c.qualifier);
  writeBigEndian56(out, at, maxTimestamp - c.timestamp);
  out[at + tsBytes] = c.kind;
  return out;
}

/** cellKey followed by the inverted sequence number. */
export function internalKey(cellKey: Uint8Array, seq: number): Uint8Array {
  const out = new Uint8Array(cellKey.length + seqBytes);
  out.set(cellKey, 0);
  writeBigEndian56(out, cellKey.length, maxSequence - seq);
  return out;
}

export function encodeInternalKey(c: CellCoordinates, seq: number): Uint8Array {
  return internalKey(encodeCellKey(c), seq);
}

/**
 * The smallest internal key of a row: seeking here finds the row's first entry. It is also the
 * bloom-filter key of the row (see rowPrefixLength).
 */
export function rowStartKey(row: Uint8Array): Uint8Array {
  const out = new Uint8Array(escapedLength(row));
  writeEscaped(out, 0, row);
  return out;
}

/** The smallest internal key of a (row, family): seeking here skips the row's other families. */
export function familyStartKey(row: Uint8Array, family: Uint8Array): Uint8Array {
  const out = new Uint8Array(escapedLength(row) + escapedLength(family));
  writeEscaped(out, writeEscaped(out, 0, row), family);
  return out;
}

/** Seek target for the first entry of a column visible at `seq`, from timestamp `ts` down. */
export function columnSeekKey(
  row: Uint8Array,
  family: Uint8Array,
  qualifier: Uint8Array,
  ts: number,
  seq: number,
): Uint8Array {
  return encodeInternalKey({ row, family, qualifier, timestamp: ts, kind: Kind.DeleteRow }, seq);
}

/** Length of the escaped row plus its terminator at the start of an internal or cell key. */
export function rowPrefixLength(key: Uint8Array): number {
  for (let i = 0; i + 1 < key.length; i++) {
    if (key[i] === 0) {
      if (key[i + 1] === 1) return i + 2;
      i++; // 00 FF: an escaped zero byte
    }
  }
  throw corruption('key has no row terminator');
}

/** The bytes every key of one row starts with (the bloom-filter key). */
export function rowPrefix(key: Uint8Array): Uint8Array {
  return key.subarray(0, rowPrefixLength(key));
}

export function seqOf(internal: Uint8Array): number {
  return maxSequence - readBigEndian56(internal, internal.length - seqBytes);
}

export function kindOf(internal: Uint8Array): Kind {
  return internal[internal.length - seqBytes - 1]! as Kind;
}

export function timestampOf(internal: Uint8Array): number {
  return maxTimestamp - readBigEndian56(internal, internal.length - seqBytes - trailerBytes);
}

/** The cell key part (a view) of an internal key. */
export function cellKeyOf(internal: Uint8Array): Uint8Array {
  return internal.subarray(0, internal.length - seqBytes);
}

/**
 * The (row, family, qualifier) part of an internal key, with terminators, as a view: two
 * entries belong to the same column exactly when these bytes are equal.
 */
export function columnPartOf(internal: Uint8Array): Uint8Array {
  return internal.subarray(0, internal.length - seqBytes - trailerBytes);
}

function readEscaped(key: Uint8Array, at: number): { bytes: Uint8Array; next: number } {
  let zeros = 0;
  let i = at;
  for (;;) {
    if (i + 1 >= key.length) throw corruption('key part has no terminator', { offset: at });
    if (key[i] === 0) {
      if (key[i + 1] === 1) break;
      if (key[i + 1] !== 0xff) throw corruption('bad escape in key', { offset: i });
      zeros++;
      i += 2;
    } else {
      i++;
    }
  }
  if (zeros === 0) return { bytes: key.subarray(at, i), next: i + 2 };
  const out = new Uint8Array(i - at - zeros);
  let o = 0;
  for (let j = at; j < i; j++) {
    out[o++] = key[j]!;
    if (key[j] === 0) j++;
  }
  return { bytes: out, next: i + 2 };
}

/** Bytes after the (row, family, qualifier) part of an internal key: tsInv, kind, seqInv. */
export const columnTrailerBytes = trailerBytes + seqBytes;

/**
 * The first key after every version of the internal key's column: its column part (escaped
 * row, family and qualifier, each ending 00 01) with the final 01 raised to 02 — no valid
 * encoding starts with that, and every later column sorts after it.
 */
export function columnEndKey(key: Uint8Array): Uint8Array {
  const colLen = key.length - columnTrailerBytes;
  const out = new Uint8Array(key.subarray(0, colLen));
  out[colLen - 1] = 2;
  return out;
}
/** Position of the kind byte, counted from the end of an internal key. */
export const kindFromEnd = seqBytes + 1;

/** The index just past the 00 01 terminator of the escaped key part starting at `from`. */
export function keyPartEnd(key: Uint8Array, from: number, end: number): number {
  for (let i = from; i + 1 < end; i++) {
    if (key[i] === 0) {
      if (key[i + 1] === 1) return i + 2;
      i++; // 00 FF: an escaped zero byte
    }
  }
  throw corruption('key part has no terminator', { offset: from });
}

/** A fresh copy of the unescaped bytes of key[start, end) (end excludes the terminator). */
export function unescapeKeyPart(key: Uint8Array, start: number, end: number): Uint8Array {
  let zeros = 0;
  for (let i = start; i < end; i++) {
    if (key[i] === 0) {
      zeros++;
      i++;
    }
  }
  const out = new Uint8Array(end - start - zeros);
  let o = 0;
  for (let i = start; i < end; i++) {
    out[o++] = key[i]!;
    if (key[i] === 0) i++;
  }
  return out;
}

/** Decodes an internal key; raises CORRUPTION when it is malformed. */
export function parseInternalKey(key: Uint8Array): ParsedKey {
  const row = readEscaped(key, 0);
  const family = readEscaped(key, row.next);
  const qualifier = readEscaped(key, family.next);
  if (key.length - qualifier.next !== trailerBytes + seqBytes) {
    throw corruption(`internal key has ${key.length - qualifier.next} trailer bytes, want 17`);
  }
  const kind = key[qualifier.next + tsBytes]! as Kind;
  if (kind > Kind.Put) throw corruption(`unknown cell kind ${kind}`);
  const timestamp = maxTimestamp - readBigEndian56(key, qualifier.next);
  const seq = maxSequence - readBigEndian56(key, qualifier.next + trailerBytes);
  assert(timestamp >= 0 && seq >= 0, 'key trailer out of range');
  return { row: row.bytes, family: family.bytes, qualifier: qualifier.bytes, timestamp, kind, seq };
}
