/**
 * The memtable's row index: a hash table from a row (the key prefix every entry of the row
 * starts with) to the skiplist node of the row's first entry. A point read finds its row, or
 * learns that the memtable holds none of it, with one hash and one comparison instead of a
 * skiplist search: the search compares whole keys at nearly every step when the keys of a
 * table share their first bytes (`user…`), and cost a point read ~1.5 µs in a 200,000-entry
 * memtable.
 *
 * Flat, as the skiplist is: open addressing with linear probing over two Int32Arrays (node
 * handle, hash), no JS object per row, so a full memtable costs the garbage collector nothing.
 * Slot value 0 is empty: handle 0 is the skiplist's head, never an entry. Rows are never
 * removed (a memtable only grows), and the table doubles when three quarters full: 11-21 bytes
 * a row, which a memtable of many tiny rows notices (its flushes come that much sooner, as the
 * index counts against its size), while a probe compares hashes, not keys, until one matches.
 */
import { fnv1a } from '../../util/fnv.js';
import { nilNode, type Skiplist, type SkiplistNode } from './skiplist.js';

const slotsInitial = 16;

/** FNV-1a over key[0, length): cheap, and spreads the decimal digits of YCSB-style keys well. */
function hashRow(key: Uint8Array, length: number): number {
  return fnv1a(key, 0, length);
}

export class RowIndex {
  private nodes = new Int32Array(slotsInitial);
  private hashes = new Int32Array(slotsInitial);
  private rows = 0;

  constructor(private readonly list: Skiplist) {}

  /** Bytes of the two slot arrays. */
  get bytes(): number {
    return this.nodes.byteLength + this.hashes.byteLength;
  }

  /**
   * Records that `node`, just inserted with `key`, belongs to the row `key[0, rowLength)`: it
   * becomes the row's entry when the row is new or its key sorts before the entry's.
   */
  note(node: SkiplistNode, key: Uint8Array, rowLength: number): void {
    const hash = hashRow(key, rowLength);
    const mask = this.nodes.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const at = this.nodes[i]!;
      if (at === nilNode) {
        this.nodes[i] = node;
        this.hashes[i] = hash;
        if (++this.rows * 4 > this.nodes.length * 3) this.grow();
        return;
      }
      if (this.hashes[i] === hash && this.list.keyHasPrefix(at, key, rowLength)) {
        if (this.list.compareKey(at, key) > 0) this.nodes[i] = node;
        return;
      }
    }
  }

  /** The node of the first entry of the row `row[0, rowLength)`, or nilNode when it has none. */
  find(row: Uint8Array, rowLength: number): SkiplistNode {
    const hash = hashRow(row, rowLength);
    const mask = this.nodes.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const at = this.nodes[i]!;
      if (at === nilNode) return nilNode;
      if (this.hashes[i] === hash && this.list.keyHasPrefix(at, row, rowLength)) return at;
    }
  }

  private grow(): void {
    const oldNodes = this.nodes;
    const oldHashes = this.hashes;
    this.nodes = new Int32Array(oldNodes.length * 2);
    this.hashes = new Int32Array(oldNodes.length * 2);
    const mask = this.nodes.length - 1;
    for (let j = 0; j < oldNodes.length; j++) {
      const node = oldNodes[j]!;
      if (node === nilNode) continue;
      let i = oldHashes[j]! & mask;
      while (this.nodes[i] !== nilNode) i = (i + 1) & mask;
      this.nodes[i] = node;
      this.hashes[i] = oldHashes[j]!;
    }
  }
}
