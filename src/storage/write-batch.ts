/**
 * A WriteBatch: cells to write atomically — all of them or none survive a crash, and readers
 * see all of them or none.
 *
 * Encoded as one WAL record payload (docs/formats/wal.md, "write batch payload"):
 *
 *     firstSeq u64 LE | count varint | count × (cellKey lengthPrefixed | value lengthPrefixed)
 *
 * Entry i gets sequence number firstSeq + i. The store concatenates the batches that share one
 * group commit into a single payload, so their sequence numbers are contiguous.
 */
import { ByteReader } from '../util/byte-io.js';
import { corruption, invalidArgument } from '../util/errors.js';
import { checkTimestamp, encodeCellKey, Kind } from './key.js';

/** Limits that keep one cell, one row key and one batch within what memory and a record hold. */
export const rowBytesMax = 32 * 1024;
export const familyBytesMax = 255;
export const qualifierBytesMax = 64 * 1024;
export const valueBytesMax = 16 * 1024 * 1024;
export const batchBytesMax = 32 * 1024 * 1024;

const emptyBytes = new Uint8Array(0);
const perEntryOverheadBytes = 8;

export interface BatchEntry {
  readonly cellKey: Uint8Array;
  readonly value: Uint8Array;
}

function checkRow(row: Uint8Array): void {
  if (row.length === 0) throw invalidArgument('row key must not be empty');
  if (row.length > rowBytesMax) {
    throw invalidArgument(`row key of ${row.length} bytes exceeds ${rowBytesMax}`, {
      bytes: row.length,
    });
  }
}

function checkFamily(family: Uint8Array): void {
  if (family.length === 0) throw invalidArgument('column family name must not be empty');
  if (family.length > familyBytesMax) {
    throw invalidArgument(`column family name exceeds ${familyBytesMax} bytes`);
  }
}

function checkQualifier(qualifier: Uint8Array): void {
  if (qualifier.length > qualifierBytesMax) {
    throw invalidArgument(`qualifier of ${qualifier.length} bytes exceeds ${qualifierBytesMax}`);
  }
}

export class WriteBatch {
  readonly entries: BatchEntry[] = [];
  private bytes = 0;

  get count(): number {
    return this.entries.length;
  }

  /** Approximate encoded size in bytes. */
  get approximateBytes(): number {
    return this.bytes;
  }

  private add(cellKey: Uint8Array, value: Uint8Array): this {
    const size = cellKey.length + value.length + perEntryOverheadBytes;
    if (this.bytes + size > batchBytesMax) {
      throw invalidArgument(`write batch exceeds ${batchBytesMax} bytes`, { bytes: this.bytes });
    }
    this.entries.push({ cellKey, value });
    this.bytes += size;
    return this;
  }

  put(
    row: Uint8Array,
    family: Uint8Array,
    qualifier: Uint8Array,
    timestamp: number,
    value: Uint8Array,
  ): this {
    checkRow(row);
    checkFamily(family);
    checkQualifier(qualifier);
    checkTimestamp(timestamp);
    if (value.length > valueBytesMax) {
      throw invalidArgument(`value of ${value.length} bytes exceeds ${valueBytesMax}`, {
        bytes: value.length,
      });
    }
    return this.add(encodeCellKey({ row, family, qualifier, timestamp, kind: Kind.Put }), value);
  }

  /** Deletes exactly the version of the column at `timestamp`. */
  deleteVersion(
    row: Uint8Array,
    family: Uint8Array,
    qualifier: Uint8Array,
    timestamp: number,
  ): this {
    return this.tombstone(row, family, qualifier, timestamp, Kind.DeleteVersion);
  }

  /** Deletes every version of the column with a timestamp <= `timestamp`. */
  deleteColumn(
    row: Uint8Array,
    family: Uint8Array,
    qualifier: Uint8Array,
    timestamp: number,
  ): this {
    return this.tombstone(row, family, qualifier, timestamp, Kind.DeleteColumn);
  }

  /** Deletes every cell of the family with a timestamp <= `timestamp`. */
  deleteFamily(row: Uint8Array, family: Uint8Array, timestamp: number): this {
    return this.tombstone(row, family, emptyBytes, timestamp, Kind.DeleteFamily);
  }

  /** Deletes every cell of the row with a timestamp <= `timestamp`. */
  deleteRow(row: Uint8Array, timestamp: number): this {
    checkRow(row);
    checkTimestamp(timestamp);
    const key = encodeCellKey({
      row,
      family: emptyBytes,
      qualifier: emptyBytes,
      timestamp,
      kind: Kind.DeleteRow,
    });
    return this.add(key, emptyBytes);
  }

  private tombstone(
    row: Uint8Array,
    family: Uint8Array,
    qualifier: Uint8Array,
    timestamp: number,
    kind: Kind,
  ): this {
    checkRow(row);
    checkFamily(family);
    checkQualifier(qualifier);
    checkTimestamp(timestamp);
    return this.add(encodeCellKey({ row, family, qualifier, timestamp, kind }), emptyBytes);
  }
}

function varintBytes(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

function putVarint(out: Uint8Array, at: number, v: number): number {
  while (v >= 0x80) {
    out[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[at++] = v;
  return at;
}

/**
 * Encodes entries (of one or more batches) that take sequence numbers firstSeq, firstSeq+1, …
 * into a new buffer of exactly the payload's size (the WAL keeps it without copying).
 */
export function encodeBatchPayload(firstSeq: number, entries: readonly BatchEntry[]): Uint8Array {
  let size = 8 + varintBytes(entries.length);
  for (const e of entries) {
    size += varintBytes(e.cellKey.length) + e.cellKey.length;
    size += varintBytes(e.value.length) + e.value.length;
  }
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, firstSeq % 0x1_0000_0000, true);
  new DataView(out.buffer).setUint32(4, Math.floor(firstSeq / 0x1_0000_0000), true);
  let at = putVarint(out, 8, entries.length);
  for (const e of entries) {
    at = putVarint(out, at, e.cellKey.length);
    out.set(e.cellKey, at);
    at += e.cellKey.length;
    at = putVarint(out, at, e.value.length);
    out.set(e.value, at);
    at += e.value.length;
  }
  return out;
}

export interface DecodedBatch {
  readonly firstSeq: number;
  readonly entries: BatchEntry[];
}

/** Decodes a WAL record payload; CORRUPTION (with the path) when it is malformed. */
export function decodeBatchPayload(payload: Uint8Array, path: string): DecodedBatch {
  try {
    const r = new ByteReader(payload);
    const firstSeq = r.u64();
    const count = r.varint();
    if (count > payload.length) throw corruption(`batch claims ${count} entries`);
    const entries: BatchEntry[] = [];
    for (let i = 0; i < count; i++) {
      const cellKey = r.lengthPrefixed();
      const value = r.lengthPrefixed();
      entries.push({ cellKey, value });
    }
    if (!r.atEnd()) throw corruption(`${r.remaining} bytes after the last batch entry`);
    return { firstSeq, entries };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw corruption(`bad write batch in ${path}: ${message}`, { path });
  }
}
