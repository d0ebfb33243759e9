/**
 * What a table is built with. Only `compression`, the block layout and the filter's bits per key
 * shape the bytes; all are recorded in the file (block type bytes, restart arrays, the filter's
 * probe count), so a reader needs none of them.
 */
import { invalidArgument } from '../../util/errors.js';
import type { Compression } from './format.js';

export interface TableOptions {
  /** Target uncompressed size of a data block; a block is cut once it reaches this. */
  readonly blockBytes?: number;
  /** Keys between restart points in a data block (a restart stores its key whole). */
  readonly restartInterval?: number;
  /** Per-block compression; a block that shrinks by less than 1/8 is stored uncompressed. */
  readonly compression?: Compression;
  /** Bloom filter bits per distinct filter key; 10 gives about 1% false positives; 0: no filter. */
  readonly bloomBitsPerKey?: number;
  /**
   * Maps a key to the bytes the bloom filter is built over (the engine passes the row prefix,
   * so a filter answers "may this table hold the row?"). Default: the whole key. Consecutive
   * equal filter keys are added once. The mapping is part of what the filter means: readers
   * must ask `mayContain` with the same function's output.
   */
  readonly filterKey?: (key: Uint8Array) => Uint8Array;
  /**
   * The same as `filterKey` for a filter key that is a prefix of the key, given as its length:
   * the builder then never makes a view per key (views of small keys are costly in V8), which
   * matters on the flush and compaction path. Takes precedence over `filterKey`.
   */
  readonly filterKeyLength?: (key: Uint8Array) => number;
}

export const blockBytesDefault = 4096;
export const restartIntervalDefault = 16;
export const compressionDefault: Compression = 'snappy';
export const bloomBitsPerKeyDefault = 10;

const blockBytesMax = 1 << 28;
const restartIntervalMax = 1 << 16;
const bloomBitsPerKeyMax = 64;

export interface ResolvedTableOptions {
  readonly blockBytes: number;
  readonly restartInterval: number;
  readonly compression: Compression;
  readonly bloomBitsPerKey: number;
  readonly filterKey: ((key: Uint8Array) => Uint8Array) | undefined;
  readonly filterKeyLength: ((key: Uint8Array) => number) | undefined;
}

function integerIn(name: string, v: number, lo: number, hi: number): number {
  if (!Number.isInteger(v) || v < lo || v > hi) {
    throw invalidArgument(`${name} must be an integer in [${lo}, ${hi}], got ${v}`, { [name]: v });
  }
  return v;
}

export function resolveTableOptions(o: TableOptions): ResolvedTableOptions {
  const compression = o.compression ?? compressionDefault;
  if (compression !== 'none' && compression !== 'snappy') {
    throw invalidArgument(`unknown compression '${String(compression)}'`);
  }
  return {
    blockBytes: integerIn('blockBytes', o.blockBytes ?? blockBytesDefault, 1, blockBytesMax),
    restartInterval: integerIn(
      'restartInterval',
      o.restartInterval ?? restartIntervalDefault,
      1,
      restartIntervalMax,
    ),
    compression,
    bloomBitsPerKey: integerIn(
      'bloomBitsPerKey',
      o.bloomBitsPerKey ?? bloomBitsPerKeyDefault,
      0,
      bloomBitsPerKeyMax,
    ),
    filterKey: o.filterKey,
    filterKeyLength: o.filterKeyLength,
  };
}
