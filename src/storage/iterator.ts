/**
 * The iterator contract shared by memtables, SSTables, merging and snapshot views.
 *
 * Iterators walk internal keys (see key.ts) in ascending byte order. Positioning methods may
 * need the disk (an SSTable block not in cache), so they return a `Step`: `undefined` when the
 * move finished synchronously, or a Promise the caller must await before touching the iterator
 * again. Awaiting only when needed keeps in-memory scans free of a microtask per entry:
 *
 *     const s = it.next();
 *     if (s) await s;
 *
 * `key()` is valid only while `valid()` is true and only until the next positioning call;
 * callers that keep it must copy. `value()` returns stored bytes that are never modified
 * (a view into an immutable SSTable block or memtable arena), so it may be kept; keeping it
 * keeps its buffer alive. Errors (CORRUPTION, IO_ERROR) are thrown
 * or rejected from the positioning call that met them. `close()` releases what the iterator
 * pins (files, memtables) and is idempotent.
 */
export type Step = void | Promise<void>;

export interface EntryIterator {
  valid(): boolean;
  key(): Uint8Array;
  value(): Uint8Array;
  seekToFirst(): Step;
  /** Positions at the first entry whose key is >= target. */
  seek(target: Uint8Array): Step;
  next(): Step;
  close(): void;
}

/** Awaits a Step only when it is a Promise. */
export async function settle(step: Step): Promise<void> {
  if (step) await step;
}
