/**
 * The data of `tessera bench storage`, shaped like LevelDB's db_bench: fixed-width zero-padded
 * decimal keys, and values cut from a 1 MiB pool of half-compressible bytes (db_bench's
 * RandomGenerator with --compression_ratio 0.5). Everything comes from the seeded Prng, so two
 * engines (and two runs with the same seed) see the same keys in the same order.
 */
import { Prng } from '../../util/prng.js';

/** db_bench's default seed. */
export const defaultSeed = 301;

/** Fraction of each value that is random; the rest repeats it (db_bench --compression_ratio). */
export const compressionRatio = 0.5;

const poolBytes = 1024 * 1024;
const pieceBytes = 100;

/** The key of index i: `width` ASCII digits, zero-padded on the left (db_bench: "%016d"). */
export function formatKey(i: number, width: number): Buffer {
  const k = Buffer.allocUnsafe(width).fill(0x30);
  let x = i;
  for (let p = width - 1; x > 0 && p >= 0; p--) {
    k[p] = 0x30 + (x % 10);
    x = Math.floor(x / 10);
  }
  return k;
}

/** Digits needed to write every index below `num`. */
export function keyDigits(num: number): number {
  return String(Math.max(0, num - 1)).length;
}

/**
 * Values for one benchmark run: successive slices of a shared pool (no copy; neither engine
 * may modify them). Like db_bench, the pool is built from 100-byte pieces whose first half is
 * random printable characters and whose second half repeats the first, so snappy halves them.
 */
export class ValueSource {
  private static pool: Buffer | undefined;
  private static poolSeed = NaN;
  private pos = 0;

  constructor(
    private readonly valueBytes: number,
    seed: number,
  ) {
    if (ValueSource.pool === undefined || ValueSource.poolSeed !== seed) {
      ValueSource.pool = buildPool(new Prng(seed), Math.max(poolBytes, valueBytes));
      ValueSource.poolSeed = seed;
    }
  }

  next(): Buffer {
    const pool = ValueSource.pool!;
    if (this.pos + this.valueBytes > pool.length) this.pos = 0;
    this.pos += this.valueBytes;
    return pool.subarray(this.pos - this.valueBytes, this.pos);
  }
}

function buildPool(prng: Prng, bytes: number): Buffer {
  const pool = Buffer.allocUnsafe(bytes + pieceBytes);
  const raw = Math.max(1, Math.floor(pieceBytes * compressionRatio));
  for (let at = 0; at < bytes; at += pieceBytes) {
    for (let j = 0; j < raw; j++) pool[at + j] = 0x20 + prng.int(95);
    for (let j = raw; j < pieceBytes; j++) pool[at + j] = pool[at + (j % raw)]!;
  }
  return pool.subarray(0, bytes);
}

/** Key indices 0, 1, …, num-1. */
export function sequentialOrder(num: number): Uint32Array {
  const order = new Uint32Array(num);
  for (let i = 0; i < num; i++) order[i] = i;
  return order;
}

/** Every index below num exactly once, shuffled (fillrandom: every key exists afterwards). */
export function permutationOrder(num: number, prng: Prng): Uint32Array {
  const order = sequentialOrder(num);
  for (let i = num - 1; i > 0; i--) {
    const j = prng.int(i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/** `count` indices drawn uniformly from [0, num), with replacement (db_bench's random ops). */
export function uniformOrder(num: number, count: number, prng: Prng): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = prng.int(num);
  return order;
}
