/**
 * The table's bloom filter: one bit array over the hashes of every distinct filter key, so a
 * point read can skip a table that certainly lacks the row without touching its blocks.
 *
 * Layout (docs/formats/sstable.md): the bit array, then one byte k (the probe count). Bit i is
 * bit (i % 8) of byte floor(i / 8). A key sets bits h, h + δ, h + 2δ, … (mod the bit count)
 * where h = murmur3_32(key, seed) and δ = h rotated right by 17 — double hashing from one
 * 32-bit hash, as LevelDB does, which costs one hash per probe sequence.
 */
import { assert } from '../../util/assert.js';
import { corruption } from '../../util/errors.js';
import { bloomHashSeed, bloomProbesMax } from './format.js';

/** Even tiny filters get this many bits, or a handful of keys would give a high FP rate. */
const filterBitsMin = 64;
const initialHashCapacity = 1024;

/**
 * MurmurHash3 x86_32 of `data` (unsigned). Persisted through the filter, so it must never
 * change; docs/formats/sstable.md lists test vectors.
 */
export function murmur3(data: Uint8Array, seed: number): number {
  const n = data.length;
  const tail = n & ~3;
  let h = seed | 0;
  for (let i = 0; i < tail; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = n & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= data[tail + 2]! << 16;
    if (rest >= 2) k ^= data[tail + 1]! << 8;
    k ^= data[tail]!;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** k = round(bitsPerKey · ln 2): the probe count that minimises false positives. */
export function bloomProbes(bitsPerKey: number): number {
  return Math.min(bloomProbesMax, Math.max(1, Math.round(bitsPerKey * Math.LN2)));
}

/** Collects key hashes while a table is built; the bit array is sized once the count is known. */
export class BloomBuilder {
  private hashes = new Uint32Array(initialHashCapacity);
  private count = 0;

  constructor(private readonly bitsPerKey: number) {
    assert(Number.isInteger(bitsPerKey) && bitsPerKey >= 1, 'bloom bits per key must be >= 1');
  }

  get keys(): number {
    return this.count;
  }

  add(key: Uint8Array): void {
    if (this.count === this.hashes.length) {
      const grown = new Uint32Array(this.hashes.length * 2);
      grown.set(this.hashes);
      this.hashes = grown;
    }
    this.hashes[this.count++] = murmur3(key, bloomHashSeed);
  }

  /** The filter block's bytes. */
  finish(): Uint8Array {
    const bytes = Math.ceil(Math.max(filterBitsMin, this.count * this.bitsPerKey) / 8);
    const bits = bytes * 8;
    const k = bloomProbes(this.bitsPerKey);
    const out = new Uint8Array(bytes + 1);
    for (let i = 0; i < this.count; i++) {
      let h = this.hashes[i]!;
      const delta = ((h >>> 17) | (h << 15)) >>> 0;
      for (let j = 0; j < k; j++) {
        const bit = h % bits;
        out[bit >>> 3]! |= 1 << (bit & 7);
        h = (h + delta) >>> 0;
      }
    }
    out[bytes] = k;
    return out;
  }
}

/** A filter read back from a table. */
export class BloomFilter {
  private readonly bits: number;
  private readonly probes: number;

  private constructor(private readonly array: Uint8Array) {
    this.bits = (array.length - 1) * 8;
    this.probes = array[array.length - 1]!;
  }

  /** Checks the layout; raises CORRUPTION naming `path` if it is not a filter. */
  static parse(data: Uint8Array, path: string, offset: number): BloomFilter {
    if (data.length < 2 || data[data.length - 1]! < 1 || data[data.length - 1]! > bloomProbesMax) {
      throw corruption(`bad filter block at offset ${offset} of ${path}`, { path, offset });
    }
    return new BloomFilter(data);
  }

  get byteLength(): number {
    return this.array.byteLength;
  }

  /** False only when no key added had these filter-key bytes. */
  mayContain(key: Uint8Array): boolean {
    const bits = this.bits;
    const a = this.array;
    let h = murmur3(key, bloomHashSeed);
    const delta = ((h >>> 17) | (h << 15)) >>> 0;
    for (let j = 0; j < this.probes; j++) {
      const bit = h % bits;
      if ((a[bit >>> 3]! & (1 << (bit & 7))) === 0) return false;
      h = (h + delta) >>> 0;
    }
    return true;
  }
}
