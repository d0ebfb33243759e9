/**
 * The block cache: decoded SSTable blocks, keyed by (file number, block offset), bounded by
 * the bytes they hold and evicting the least recently used first.
 *
 * Every operation is O(1): a map per file finds an entry, and an intrusive doubly linked list
 * (a circular list through a sentinel) keeps recency. The per-file maps make dropping a
 * deleted file's blocks cost only that file's entries, and keep keys as plain numbers (no
 * string built per lookup on the read path).
 *
 * File numbers are never reused within a store (see manifest/file-meta.ts), and table files
 * are immutable, so a cached block never goes stale; evictFile only frees memory early.
 */
import { assert } from '../../util/assert.js';

interface Entry {
  readonly fileNumber: number;
  readonly offset: number;
  readonly value: unknown;
  readonly chargeBytes: number;
  /** Toward the most recently used end. */
  newer: Entry;
  older: Entry;
}

export class BlockCache {
  private capacity: number;
  private usage = 0;
  private count = 0;
  private readonly files = new Map<number, Map<number, Entry>>();
  /** Sentinel of the recency list: `sentinel.older` is the newest, `sentinel.newer` the oldest. */
  private readonly sentinel: Entry;

  /** Lookups that found / did not find their block. */
  hits = 0;
  misses = 0;
  /** Entries dropped to make room (not counting evictFile or replacement). */
  evictions = 0;

  constructor(capacityBytes: number) {
    assert(Number.isSafeInteger(capacityBytes) && capacityBytes >= 0, 'bad cache capacity');
    this.capacity = capacityBytes;
    const s = { fileNumber: -1, offset: -1, value: undefined, chargeBytes: 0 } as Entry;
    s.newer = s;
    s.older = s;
    this.sentinel = s;
  }

  get capacityBytes(): number {
    return this.capacity;
  }

  /** Changes the capacity, evicting least recently used entries until the usage fits. */
  resize(capacityBytes: number): void {
    assert(Number.isSafeInteger(capacityBytes) && capacityBytes >= 0, 'bad cache capacity');
    this.capacity = capacityBytes;
    this.evictToFit();
  }

  /** Bytes charged for the entries held. */
  get usageBytes(): number {
    return this.usage;
  }

  /** Capacity not in use: what an insert may take without evicting anything. */
  get freeBytes(): number {
    return Math.max(0, this.capacity - this.usage);
  }

  get entries(): number {
    return this.count;
  }

  /** The cached value, made most recently used; undefined on a miss. */
  get(fileNumber: number, offset: number): unknown {
    const e = this.files.get(fileNumber)?.get(offset);
    if (e === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.unlink(e);
    this.linkNewest(e);
    return e.value;
  }

  /**
   * Caches `value` (replacing any entry at the same key), then evicts least recently used
   * entries until the usage fits. A value larger than the whole capacity is not cached.
   */
  insert(fileNumber: number, offset: number, value: unknown, chargeBytes: number): void {
    assert(Number.isFinite(chargeBytes) && chargeBytes >= 0, 'bad cache charge');
    const old = this.files.get(fileNumber)?.get(offset);
    if (old) this.remove(old, this.files.get(fileNumber)!);
    if (chargeBytes > this.capacity) return;
    // Looked up after the removal, which drops a file's map once it is empty.
    let file = this.files.get(fileNumber);
    if (!file) {
      file = new Map();
      this.files.set(fileNumber, file);
    }
    const e = { fileNumber, offset, value, chargeBytes } as Entry;
    file.set(offset, e);
    this.linkNewest(e);
    this.usage += chargeBytes;
    this.count++;
    this.evictToFit();
  }

  private evictToFit(): void {
    while (this.usage > this.capacity) {
      const oldest = this.sentinel.newer;
      assert(oldest !== this.sentinel, 'cache usage without entries');
      this.remove(oldest, this.files.get(oldest.fileNumber)!);
      this.evictions++;
    }
  }

  /** Drops every block of a file (after the file is deleted). */
  evictFile(fileNumber: number): void {
    const file = this.files.get(fileNumber);
    if (!file) return;
    for (const e of file.values()) {
      this.unlink(e);
      this.usage -= e.chargeBytes;
      this.count--;
    }
    this.files.delete(fileNumber);
  }

  clear(): void {
    for (const n of [...this.files.keys()]) this.evictFile(n);
    assert(this.usage === 0 && this.count === 0, 'cache accounting drifted');
  }

  private remove(e: Entry, file: Map<number, Entry>): void {
    this.unlink(e);
    file.delete(e.offset);
    if (file.size === 0) this.files.delete(e.fileNumber);
    this.usage -= e.chargeBytes;
    this.count--;
  }

  private unlink(e: Entry): void {
    e.older.newer = e.newer;
    e.newer.older = e.older;
  }

  private linkNewest(e: Entry): void {
    const s = this.sentinel;
    e.older = s.older;
    e.newer = s;
    s.older.newer = e;
    s.older = e;
  }
}
