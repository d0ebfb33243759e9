/**
 * The rows of `tessera bench repair`: one hashed table of `rows` rows, each one cell of
 * `valueSize` random bytes (random, so that no block compression shrinks what repair compares
 * and streams), and the writes that make one replica diverge from the others.
 *
 * Key space. The divergence overwrites rows [0, overwrites) and adds rows under a prefix of its
 * own round; the foreground load (foreground-load.ts) reads and writes only rows [overwrites,
 * rows). Kept apart because a QUORUM read of a row whose replicas differ repairs that row in
 * the foreground (a blocking read repair), which would both heal some of the divergence before
 * repair sees it and put read-repair writes into the latencies that are meant to show repair's
 * and bootstrap's cost. Foreground writes run while every replica is up, so they diverge
 * nothing.
 */
import type { Table } from '../../../client/index.js';
import { Mutation, type ConsistencyLevel } from '../../../model/index.js';
import type { Prng } from '../../../util/prng.js';

export const BENCH_TABLE = 'repairbench';
export const BENCH_FAMILY = 'f';
export const BENCH_COLUMN = `${BENCH_FAMILY}:v`;
/** Rows per `table.batch` call while loading and diverging (the server allows 10,000). */
const batchRows = 200;
/** Batches in flight per connection while loading and diverging. */
const batchesPerConnection = 2;
/** Spare random bytes past one value, so that values start at many offsets of one pool. */
const poolSlackBytes = 64 * 1024;

/** `row000000042`: fixed width, so that every key has the same size. */
export function rowKey(i: number): string {
  return `row${i.toString().padStart(9, '0')}`;
}

/** The i-th row a divergence round adds (distinct from every rowKey and other rounds). */
export function newRowKey(round: number, i: number): string {
  return `new${round}-${i.toString().padStart(9, '0')}`;
}

/** Values: windows of one pool of random bytes, at random offsets. */
export class ValueSource {
  private readonly pool: Uint8Array;

  constructor(
    private readonly valueSize: number,
    private readonly random: Prng,
  ) {
    this.pool = random.bytes(valueSize + poolSlackBytes);
  }

  next(): Uint8Array {
    const at = this.random.int(poolSlackBytes);
    return this.pool.subarray(at, at + this.valueSize);
  }
}

/** Writes `keys` (one cell each) in batches over every table handle; throws on any failure. */
export async function writeRows(
  tables: readonly Table[],
  keys: readonly string[],
  values: ValueSource,
  consistency: ConsistencyLevel,
): Promise<void> {
  let next = 0;
  const worker = async (table: Table): Promise<void> => {
    while (next < keys.length) {
      const slice = keys.slice(next, next + batchRows);
      next += slice.length;
      const batch = slice.map((k) => new Mutation(k).put(BENCH_FAMILY, 'v', values.next()));
      const outcomes = await table.batch(batch, { consistency });
      const failed = outcomes.findIndex((o) => !o.ok);
      if (failed >= 0) {
        const o = outcomes[failed]!;
        throw new Error(
          `writing ${slice[failed]} at ${consistency}: ${o.ok ? '' : `${o.code}: ${o.message}`}`,
        );
      }
    }
  };
  const workers = tables.flatMap((t) => Array.from({ length: batchesPerConnection }, () => t));
  await Promise.all(workers.map(worker));
}

/** The keys a divergence round writes: overwrites of rows [0, overwrites), then new rows. */
export function divergenceKeys(round: number, overwrites: number, added: number): string[] {
  const keys: string[] = [];
  for (let i = 0; i < overwrites; i++) keys.push(rowKey(i));
  for (let i = 0; i < added; i++) keys.push(newRowKey(round, i));
  return keys;
}
