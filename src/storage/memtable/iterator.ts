/**
 * The memtable's EntryIterator: a cursor on the skiplist's bottom level. Memory never needs
 * the disk, so every positioning call finishes synchronously and returns undefined.
 *
 * Entries added while the iterator is open are seen when they sort after its current position
 * and not otherwise (see memtable.ts). Key and value views are made on first use per position.
 */
import { assert } from '../../util/assert.js';
import type { EntryIterator } from '../iterator.js';
import { nilNode, type Skiplist, type SkiplistNode } from './skiplist.js';

export class MemtableIterator implements EntryIterator {
  private list: Skiplist | undefined;
  private node: SkiplistNode = nilNode;
  private keyView: Uint8Array | undefined;
  private valueView: Uint8Array | undefined;

  constructor(list: Skiplist) {
    this.list = list;
  }

  valid(): boolean {
    return this.node !== nilNode;
  }

  key(): Uint8Array {
    assert(this.node !== nilNode, 'key() of an invalid memtable iterator');
    return (this.keyView ??= this.list!.key(this.node));
  }

  value(): Uint8Array {
    assert(this.node !== nilNode, 'value() of an invalid memtable iterator');
    return (this.valueView ??= this.list!.value(this.node));
  }

  seekToFirst(): undefined {
    this.moveTo(this.open().first());
    return undefined;
  }

  seek(target: Uint8Array): undefined {
    // Forward from here when the target is ahead (a point read skipping a column's versions).
    this.moveTo(this.open().seekForward(this.node, target));
    return undefined;
  }

  next(): undefined {
    assert(this.node !== nilNode, 'next() of an invalid memtable iterator');
    this.moveTo(this.list!.next(this.node));
    return undefined;
  }

  /** Positions on `node` (one of this skiplist's entries): Memtable.seekRow's entry point. */
  moveToNode(node: SkiplistNode): void {
    this.open();
    this.moveTo(node);
  }

  /** Idempotent; the iterator is invalid afterwards and positioning it is an assertion. */
  close(): void {
    this.list = undefined;
    this.moveTo(nilNode);
  }

  private open(): Skiplist {
    assert(this.list !== undefined, 'memtable iterator used after close()');
    return this.list;
  }

  private moveTo(node: SkiplistNode): void {
    this.node = node;
    this.keyView = undefined;
    this.valueView = undefined;
  }
}
