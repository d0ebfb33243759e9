/**
 * A table's index held in memory: for each data block, its separator key and handle.
 *
 * Unpacked from the index block at open into flat arrays (all separators in one buffer) rather
 * than an object per block: a seek binary-searches it with no allocation, and an open table
 * costs about its separator bytes plus 28 bytes per block. Random seeks over a large table
 * are bound by memory latency, so the search runs on a compact array of 4-byte "heads" (the
 * bytes after the prefix all separators share) and touches the separators themselves only
 * to break ties.
 */
import { ByteReader } from '../../util/byte-io.js';
import { corruption, isTesseraError } from '../../util/errors.js';
import type { Block } from './block.js';
import { BlockIterator } from './block-iterator.js';
import { compareFrom, compareRange } from './compare.js';
import { decodeHandle } from './footer.js';
import { blockTrailerBytes } from './format.js';

export class TableIndex {
  private constructor(
    /** Separator i is keys[keyStarts[i] .. keyStarts[i + 1]). */
    private readonly keys: Uint8Array,
    private readonly keyStarts: Uint32Array,
    private readonly offsets: Float64Array,
    private readonly sizes: Float64Array,
    /** Bytes every separator starts with. */
    private readonly sharedPrefix: number,
    /** Big-endian u32 of each separator's 4 bytes after the shared prefix (zero-padded). */
    private readonly heads: Uint32Array,
  ) {}

  /** Data blocks in the table. */
  get count(): number {
    return this.offsets.length;
  }

  get byteLength(): number {
    return (
      this.keys.byteLength +
      this.keyStarts.byteLength +
      this.offsets.byteLength +
      this.sizes.byteLength +
      this.heads.byteLength
    );
  }

  offset(i: number): number {
    return this.offsets[i]!;
  }

  size(i: number): number {
    return this.sizes[i]!;
  }

  /** The first block whose separator is >= target (where a seek to target lands), or count. */
  find(target: Uint8Array): number {
    const keys = this.keys;
    const shared = this.sharedPrefix;
    // Every separator starts with the same `shared` bytes: place target against those first.
    const n = shared < target.length ? shared : target.length;
    for (let i = 0; i < n; i++) {
      const x = keys[i]!;
      const y = target[i]!;
      if (x !== y) return x < y ? this.offsets.length : 0;
    }
    if (target.length < shared) return 0;
    // Then binary-search on the next 4 bytes, held in one small array, and compare whole keys
    // only between separators whose 4 bytes tie with target's.
    const head = headAt(target, shared);
    const heads = this.heads;
    const starts = this.keyStarts;
    let lo = 0;
    let hi = this.offsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const h = heads[mid]!;
      let below: boolean;
      if (h !== head) {
        below = h < head;
      } else {
        const start = starts[mid]!;
        below = compareFrom(keys, start, starts[mid + 1]! - start, target, shared) < 0;
      }
      if (below) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Unpacks an index block. Checks that separators strictly increase and that the data blocks
   * tile [0, dataEnd) in order, as the writer lays them out.
   */
  static parse(block: Block, path: string, dataEnd: number): TableIndex {
    const fail = (what: string) =>
      corruption(`${what} in index block at offset ${block.offset} of ${path}`, {
        path,
        offset: block.offset,
      });
    const it = new BlockIterator();
    it.setBlock(block);
    const keyParts: Uint8Array[] = [];
    const offsets: number[] = [];
    const sizes: number[] = [];
    let keyBytes = 0;
    let expectedOffset = 0;
    for (it.seekToFirst(); it.valid(); it.next()) {
      const key = it.key();
      if (keyParts.length > 0) {
        const prev = keyParts[keyParts.length - 1]!;
        if (compareRange(prev, 0, prev.length, key) >= 0) throw fail('separators out of order');
      }
      let handle;
      try {
        const r = new ByteReader(it.value());
        handle = decodeHandle(r);
        if (!r.atEnd()) throw corruption('trailing bytes after block handle');
      } catch (err) {
        if (isTesseraError(err, 'CORRUPTION')) throw fail(`bad block handle (${err.message})`);
        throw err;
      }
      if (handle.offset !== expectedOffset) {
        throw fail(`data block ${offsets.length} at ${handle.offset}, expected ${expectedOffset}`);
      }
      expectedOffset = handle.offset + handle.size + blockTrailerBytes;
      if (expectedOffset > dataEnd) throw fail(`data block ${offsets.length} overlaps meta blocks`);
      keyParts.push(new Uint8Array(key));
      keyBytes += key.length;
      offsets.push(handle.offset);
      sizes.push(handle.size);
    }
    if (offsets.length === 0) throw fail('no data blocks');
    if (expectedOffset !== dataEnd)
      throw fail(`data blocks end at ${expectedOffset}, not ${dataEnd}`);
    const keys = new Uint8Array(keyBytes);
    const keyStarts = new Uint32Array(keyParts.length + 1);
    let at = 0;
    keyParts.forEach((k, i) => {
      keyStarts[i] = at;
      keys.set(k, at);
      at += k.length;
    });
    keyStarts[keyParts.length] = at;
    // Sorted keys: what the first and last share, all share.
    const first = keyParts[0]!;
    const last = keyParts[keyParts.length - 1]!;
    let sharedPrefix = 0;
    while (
      sharedPrefix < first.length &&
      sharedPrefix < last.length &&
      first[sharedPrefix] === last[sharedPrefix]
    ) {
      sharedPrefix++;
    }
    const heads = Uint32Array.from(keyParts, (k) => headAt(k, sharedPrefix));
    return new TableIndex(
      keys,
      keyStarts,
      Float64Array.from(offsets),
      Float64Array.from(sizes),
      sharedPrefix,
      heads,
    );
  }
}

/**
 * Bytes at..at+3 of key as a big-endian u32, missing bytes as 0. For keys with equal bytes
 * before `at`, a smaller head means a smaller key; equal heads decide nothing.
 */
function headAt(key: Uint8Array, at: number): number {
  const b0 = at < key.length ? key[at]! : 0;
  const b1 = at + 1 < key.length ? key[at + 1]! : 0;
  const b2 = at + 2 < key.length ? key[at + 2]! : 0;
  const b3 = at + 3 < key.length ? key[at + 3]! : 0;
  return ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
}
