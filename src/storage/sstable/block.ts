/**
 * A data or index block read from disk, checked and (if it was compressed) decompressed: the
 * form the block cache holds. Parsing validates the restart array once, so iterators over a
 * cached block only bounds-check the entries they decode.
 */
import { corruption, type TesseraError } from '../../util/errors.js';
import { restartCountBytes, restartEntryBytes } from './format.js';

/** Rough heap cost of a Block beyond its bytes (objects, views), charged to the cache. */
const blockOverheadBytes = 160;

export class Block {
  /** Entries end (and the restart array begins) here. */
  readonly limit: number;

  private constructor(
    /** The block contents: entries, restart array, restart count. */
    readonly data: Uint8Array,
    /** Offsets of the restart points, each < limit, strictly increasing, the first 0. */
    readonly restarts: Uint32Array,
    /** The file the block came from and its offset there, for error messages. */
    readonly path: string,
    readonly offset: number,
  ) {
    this.limit = data.length - restartCountBytes - restarts.length * restartEntryBytes;
  }

  /** Bytes to charge the block cache for holding this block. */
  get chargeBytes(): number {
    return this.data.byteLength + this.restarts.byteLength + blockOverheadBytes;
  }

  /** Parses block contents; raises CORRUPTION naming `path` and `offset` if malformed. */
  static parse(data: Uint8Array, path: string, offset: number): Block {
    const fail = (what: string): TesseraError => blockCorruption(path, offset, what);
    if (data.length < restartCountBytes) throw fail(`block of ${data.length} bytes`);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const count = view.getUint32(data.length - restartCountBytes, true);
    if (count < 1 || count > (data.length - restartCountBytes) / restartEntryBytes) {
      throw fail(`bad restart count ${count}`);
    }
    const limit = data.length - restartCountBytes - count * restartEntryBytes;
    const restarts = new Uint32Array(count);
    let previous = -1;
    for (let i = 0; i < count; i++) {
      const r = view.getUint32(limit + i * restartEntryBytes, true);
      if (r >= limit || r <= previous || (i === 0 && r !== 0)) {
        throw fail(`bad restart point ${i} (${r}, entries end at ${limit})`);
      }
      restarts[i] = r;
      previous = r;
    }
    return new Block(data, restarts, path, offset);
  }
}

export function blockCorruption(path: string, offset: number, what: string): TesseraError {
  return corruption(`${what} in block at offset ${offset} of ${path}`, { path, offset });
}
