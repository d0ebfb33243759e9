/**
 * Per-row serialization inside a tablet: operations on one row run one after another, in
 * arrival order, so a read-check-write (checkAndMutate, increment, append) cannot interleave
 * with another write to the same row. Rows are independent; an idle row holds no memory.
 */
import { bytesKey } from './bytes.js';

export class RowLocks {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `fn` once every operation queued before it on `row` has finished. */
  async withRow<T>(row: Uint8Array, fn: () => Promise<T>): Promise<T> {
    const key = bytesKey(row);
    const prev = this.tails.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = prev === undefined ? mine : prev.then(() => mine);
    this.tails.set(key, tail);
    if (prev !== undefined) await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Rows with an operation running or queued. */
  get activeRows(): number {
    return this.tails.size;
  }
}
