/**
 * Per-row ordering inside a tablet. Two kinds of operation take a row:
 *
 * - An exclusive one (`withRow`: checkAndMutate, increment, append — a read, then a write that
 *   depends on it) starts once every operation queued before it on the row has finished, write
 *   applied, and the row's later operations wait for it to finish. Nothing can then land between
 *   its read and its write.
 * - A blind write (`withRowWrite`: put, delete, mutate) only needs its place in the row's
 *   order: it submits its write once every earlier operation on the row has submitted its own,
 *   and the store applies writes in the order they were submitted. It does not wait for the
 *   earlier writes to become durable, so the writes of a hot row share group commits instead
 *   of taking one WAL write each in turn (YCSB A, whose zipfian sends ~4% of the updates to one
 *   row, held a row's lock across its fsync before: p99 2.9–3.0 ms, against 2.6–2.7 now).
 *
 * An exclusive operation that follows blind writes still waits for them to be applied, so its
 * read sees them. An idle row holds no memory.
 *
 * Rows are told apart by a 32-bit hash of their bytes: two rows that collide share one queue,
 * which only makes operations that could have run side by side take turns (rare, and never
 * wrong), while naming each row by a string built from its bytes cost every write ~1.5% of a
 * loaded node's time.
 */
import { fnv1a } from '../util/fnv.js';

/** The latest operation queued on a row; earlier ones are implied by it. */
interface RowTail {
  /** Settles once it (and so every earlier operation) has submitted its write or finished. */
  readonly submitted: Promise<void>;
  /** `submitted` has settled (read synchronously, so a blind write can go at once). */
  submittedYet: boolean;
  /** Settles once it and every earlier operation have finished. */
  readonly done: Promise<void>;
}

const settledOk: Promise<void> = Promise.resolve();
const ignore = (): void => undefined;

export class RowLocks {
  private readonly tails = new Map<number, RowTail>();

  /**
   * Runs `fn` once every operation queued before it on `row` (or one colliding) has finished;
   * operations queued after it wait until it has.
   */
  async withRow<T>(row: Uint8Array, fn: () => Promise<T>): Promise<T> {
    const key = fnv1a(row);
    const prev = this.tails.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    // It starts after `prev` is done, so `mine` settling implies every earlier one is done.
    const tail: RowTail = { submitted: mine, submittedYet: false, done: mine };
    this.tails.set(key, tail);
    if (prev !== undefined) await prev.done;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /**
   * Calls `submit` once every operation queued before it on `row` has submitted its write: at
   * once when they all have. `submit` must hand its write to the store before it returns (the
   * store applies writes in that order); the result is `submit`'s promise.
   */
  withRowWrite<T>(row: Uint8Array, submit: () => Promise<T>): Promise<T> {
    const key = fnv1a(row);
    const prev = this.tails.get(key);
    if (prev === undefined || prev.submittedYet) {
      const result = call(submit);
      const settled = result.then(ignore, ignore);
      this.push(key, {
        submitted: settledOk,
        submittedYet: true,
        done: prev === undefined ? settled : Promise.all([prev.done, settled]).then(ignore),
      });
      return result;
    }
    let markSubmitted!: () => void;
    let markDone!: () => void;
    const tail: RowTail = {
      submitted: new Promise<void>((resolve) => (markSubmitted = resolve)),
      submittedYet: false,
      done: new Promise<void>((resolve) => (markDone = resolve)),
    };
    this.push(key, tail);
    return prev.submitted.then(() => {
      const result = call(submit);
      tail.submittedYet = true;
      markSubmitted();
      void Promise.all([prev.done, result.then(ignore, ignore)]).then(markDone);
      return result;
    });
  }

  /** Rows with an operation running or queued. */
  get activeRows(): number {
    return this.tails.size;
  }

  /** Makes `tail` the row's latest operation, and forgets the row once it is done. */
  private push(key: number, tail: RowTail): void {
    this.tails.set(key, tail);
    void tail.done.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
  }
}

/** `fn()`, with a synchronous throw as a rejection. */
function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (err) {
    return Promise.reject(err);
  }
}
