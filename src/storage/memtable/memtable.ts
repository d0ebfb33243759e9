/**
 * The memtable: the newest writes of a store, sorted by internal key in memory, until it is
 * frozen and flushed to a level-0 SSTable.
 *
 * Single writer: `add` is called by the store's one write path, never concurrently with
 * itself. Readers (iterators, `get`) may interleave with adds at will: an entry, once added,
 * never moves or changes, so an iterator created before later adds stays valid. Whether it
 * sees an entry added after it was created depends on where it stands: it sees every entry
 * added ahead of its current position (keys greater than its current key) and none added
 * behind it. Readers that need one point in time filter by sequence number (see key.ts), as
 * every read under a snapshot does anyway.
 *
 * Keys are unique internal keys (every write carries its own sequence number), so adding a
 * key that is already present is an assertion failure. Keys and values are copied in; what
 * readers get back are views into the memtable's arena, valid for as long as they hold them
 * (they keep the arena chunk alive), but callers that keep them long after the memtable is
 * dropped should copy them to let that memory go.
 */
import { assert } from '../../util/assert.js';
import { MemtableIterator } from './iterator.js';
import { RowIndex } from './row-index.js';
import { Skiplist, nilNode, type HeightRandom } from './skiplist.js';

export interface MemtableEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export class Memtable {
  /** A caller-chosen number naming this memtable in logs and traces (default 0). */
  readonly id: number;
  private readonly list: Skiplist;
  private readonly rowIndex: RowIndex | undefined;
  private readonly rowLength: ((key: Uint8Array) => number) | undefined;
  private isFrozen = false;

  /**
   * `random` chooses skiplist tower heights only (never what readers see); pass a fork of the
   * store's Random so these draws do not shift anyone else's. With `rowLength` (the length of
   * the row prefix a key starts with: key.ts's rowPrefixLength) the memtable keeps a row index
   * and answers `seekRow` without a search. With `runSuffixBytes` (key.ts's
   * columnTrailerBytes) the skiplist links the versions of each column as a run (skiplist.ts),
   * and an iterator's seek past a column's remaining versions jumps over them.
   */
  constructor(
    random: HeightRandom,
    id = 0,
    rowLength?: (key: Uint8Array) => number,
    runSuffixBytes = 0,
  ) {
    assert(Number.isSafeInteger(id) && id >= 0, `memtable id must be a safe integer >= 0: ${id}`);
    this.id = id;
    this.list = new Skiplist(random, runSuffixBytes);
    this.rowLength = rowLength;
    this.rowIndex = rowLength === undefined ? undefined : new RowIndex(this.list);
  }

  /** Number of entries. */
  get count(): number {
    return this.list.count;
  }

  /**
   * Memory the entries take: key and value bytes plus per-entry overhead (a 24-byte header,
   * 8 bytes per tower level — 2 levels on average — and the key padded to 4 bytes: about 44
   * bytes an entry), counted exactly from the arena, plus the row index's slots (11-21 bytes
   * a row). Unused tails of arena chunks are not counted.
   */
  get approximateBytes(): number {
    return this.list.bytesUsed + (this.rowIndex?.bytes ?? 0);
  }

  /**
   * Memory the memtable holds: every arena chunk, used or not, and the row index. What the
   * store charges against its memory budget (approximateBytes decides when to switch memtables).
   */
  get allocatedBytes(): number {
    return this.list.bytesAllocated + (this.rowIndex?.bytes ?? 0);
  }

  get frozen(): boolean {
    return this.isFrozen;
  }

  /** No more adds: the memtable is waiting for (or in) its flush. Idempotent. */
  freeze(): void {
    this.isFrozen = true;
  }

  /** Adds an entry (copied). The memtable must not be frozen and must not hold the key. */
  add(key: Uint8Array, value: Uint8Array): void {
    assert(!this.isFrozen, `add to frozen memtable ${this.id}`);
    const node = this.list.insert(key, value);
    if (this.rowIndex !== undefined) this.rowIndex.note(node, key, this.rowLength!(key));
  }

  /**
   * An iterator on the first entry of the row whose prefix is row[0, rowLength) — where
   * `iterator().seek(row)` would land — or undefined when the memtable holds no entry of the
   * row. Needs the row index (constructor's `rowLength`); `row` is a row prefix as that
   * function measures it.
   */
  seekRow(row: Uint8Array): MemtableIterator | undefined {
    assert(this.rowIndex !== undefined, 'seekRow() of a memtable without a row index');
    const node = this.rowIndex.find(row, row.length);
    if (node === nilNode) return undefined;
    const it = new MemtableIterator(this.list);
    it.moveToNode(node);
    return it;
  }

  /** The first entry whose key is >= target, or undefined: a point lookup without an iterator. */
  get(target: Uint8Array): MemtableEntry | undefined {
    const node = this.list.seek(target);
    if (node === nilNode) return undefined;
    return { key: this.list.key(node), value: this.list.value(node) };
  }

  /** An iterator over the entries, unpositioned. Always synchronous: every Step is undefined. */
  iterator(): MemtableIterator {
    return new MemtableIterator(this.list);
  }
}
