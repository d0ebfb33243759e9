/**
 * Table properties: what a table holds, stored in its own block so that opening a table (and
 * the tools that inspect one) learn its key range and counts without scanning it.
 *
 * Encoding (version 1): varints entries, dataBlocks, rawKeyBytes, rawValueBytes, filterKeys;
 * u8 compression; length-prefixed smallest and largest key. Later versions may append fields:
 * readers ignore bytes after the ones they know.
 */
import { ByteReader, ByteWriter } from '../../util/byte-io.js';
import { copyBytes } from '../../util/bytes.js';
import { corruption, isTesseraError } from '../../util/errors.js';
import { type Compression, CompressionType } from './format.js';

export interface TableProperties {
  /** Entries (keys) in the table; at least 1. */
  readonly entries: number;
  readonly dataBlocks: number;
  /** Sum of key and value lengths as added (before prefix compression and snappy). */
  readonly rawKeyBytes: number;
  readonly rawValueBytes: number;
  /** Distinct filter keys in the bloom filter (0 when the table has no filter). */
  readonly filterKeys: number;
  /** The compression the table was built with (each block records whether it was applied). */
  readonly compression: Compression;
  readonly smallest: Uint8Array;
  readonly largest: Uint8Array;
}

export function encodeProperties(p: TableProperties): Uint8Array {
  const w = new ByteWriter(64 + p.smallest.length + p.largest.length);
  w.varint(p.entries).varint(p.dataBlocks).varint(p.rawKeyBytes).varint(p.rawValueBytes);
  w.varint(p.filterKeys);
  w.u8(p.compression === 'snappy' ? CompressionType.Snappy : CompressionType.None);
  w.lengthPrefixed(p.smallest).lengthPrefixed(p.largest);
  return w.finish();
}

export function decodeProperties(data: Uint8Array, path: string, offset: number): TableProperties {
  try {
    const r = new ByteReader(data);
    const entries = r.varint();
    const dataBlocks = r.varint();
    const rawKeyBytes = r.varint();
    const rawValueBytes = r.varint();
    const filterKeys = r.varint();
    const type = r.u8();
    if (type !== CompressionType.None && type !== CompressionType.Snappy) {
      throw corruption(`unknown compression ${type}`);
    }
    const smallest = copyBytes(r.lengthPrefixed());
    const largest = copyBytes(r.lengthPrefixed());
    if (entries < 1 || dataBlocks < 1 || dataBlocks > entries) {
      throw corruption(`${entries} entries in ${dataBlocks} data blocks`);
    }
    const compression: Compression = type === CompressionType.Snappy ? 'snappy' : 'none';
    return {
      entries,
      dataBlocks,
      rawKeyBytes,
      rawValueBytes,
      filterKeys,
      compression,
      smallest,
      largest,
    };
  } catch (err) {
    if (!isTesseraError(err, 'CORRUPTION')) throw err;
    throw corruption(`bad properties block at offset ${offset} of ${path}: ${err.message}`, {
      path,
      offset,
    });
  }
}
