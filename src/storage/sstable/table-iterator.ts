/**
 * Iterates a table: a position in the index plus a BlockIterator over the current data block.
 *
 * Follows the EntryIterator Step contract strictly: when the blocks a move needs are cached
 * (or already current) the move finishes synchronously and returns undefined; only a block
 * read returns a Promise. A cached point read therefore costs no microtask at all.
 *
 * While a read is in flight the iterator is invalid, so a failed read (IO_ERROR, CORRUPTION)
 * leaves it invalid rather than positioned on stale data.
 */
import { assert } from '../../util/assert.js';
import type { EntryIterator, Step } from '../iterator.js';
import { Block } from './block.js';
import { BlockIterator } from './block-iterator.js';
import type { TableIndex } from './table-index.js';
import type { TableReader } from './table-reader.js';

export interface TableIteratorOptions {
  /**
   * Whether blocks read from disk are added to the block cache (default: the reader's
   * default, true). Turn off for one-pass scans (compaction) that would flush hot blocks.
   */
  readonly fillCache?: boolean;
}

/** Entries a forward seek steps through in the current block before it searches. */
const seekHopsMax = 4;
/** Readahead starts at this many blocks when a scan walks off a block… */
const readaheadBlocksMin = 4;
/** …and doubles on every further sequential miss up to this many (about 256 KiB). */
const readaheadBlocksMax = 64;

export class TableIterator implements EntryIterator {
  private readonly blockIter = new BlockIterator();
  /** Index of the block blockIter is on; -1 when none. */
  private blockIndex = -1;
  private closed = false;
  /** Blocks read ahead by the last sequential miss: window[k] is block windowStart + k. */
  private window: Block[] = [];
  private windowStart = -1;
  private readaheadBlocks = readaheadBlocksMin;

  constructor(
    private readonly table: TableReader,
    private readonly index: TableIndex,
    private readonly fillCache: boolean,
  ) {}

  valid(): boolean {
    return this.blockIter.valid();
  }

  key(): Uint8Array {
    return this.blockIter.key();
  }

  value(): Uint8Array {
    return this.blockIter.value();
  }

  seekToFirst(): Step {
    this.checkOpen();
    const step = this.load(0);
    if (step) return step.then(() => this.firstFrom());
    return this.firstFrom();
  }

  seek(target: Uint8Array): Step {
    this.checkOpen();
    // A short hop first: a point read skipping the rest of a column finds the next column an
    // entry or two ahead in the block it is on (a compacted table keeps one version of most
    // columns), where a seek would search the index and the block's restart points again.
    const it = this.blockIter;
    if (it.valid() && it.compareKey(target) < 0) {
      for (let k = 0; k < seekHopsMax; k++) {
        it.next();
        if (!it.valid()) break;
        if (it.compareKey(target) >= 0) return;
      }
    }
    const i = this.index.find(target);
    if (i >= this.index.count) {
      this.unload();
      return;
    }
    const step = this.load(i);
    if (step) return step.then(() => this.seekWithin(target));
    return this.seekWithin(target);
  }

  next(): Step {
    this.checkOpen();
    assert(this.blockIter.valid(), 'TableIterator.next on an invalid iterator');
    this.blockIter.next();
    return this.blockIter.valid() ? undefined : this.skipToNextBlock();
  }

  close(): void {
    this.closed = true;
    this.unload();
    this.window = [];
  }

  private seekWithin(target: Uint8Array): Step {
    if (this.closed) return;
    this.blockIter.seek(target);
    // target may fall between this block's last key and its separator: then the answer is
    // the first key of the next block.
    return this.blockIter.valid() ? undefined : this.skipToNextBlock();
  }

  private firstFrom(): Step {
    if (this.closed) return;
    this.blockIter.seekToFirst();
    return this.blockIter.valid() ? undefined : this.skipToNextBlock();
  }

  /** Moves to the first entry of the block after the current one (or past the end). */
  private skipToNextBlock(): Step {
    const i = this.blockIndex + 1;
    if (i >= this.index.count) {
      this.unload();
      return;
    }
    const step = this.loadSequential(i);
    if (step) return step.then(() => this.firstFrom());
    return this.firstFrom();
  }

  /**
   * Like load, for a walk from block i−1 to i: a miss reads several blocks at once, more the
   * longer the walk goes on (a scan), while a point read never pays for readahead.
   */
  private loadSequential(i: number): Step {
    const k = i - this.windowStart;
    if (this.windowStart >= 0 && k >= 0 && k < this.window.length) {
      this.unload();
      this.blockIter.setBlock(this.window[k]!);
      this.blockIndex = i;
      return;
    }
    const cached = this.table.cachedBlock(i);
    if (cached) {
      this.unload();
      this.blockIter.setBlock(cached);
      this.blockIndex = i;
      return;
    }
    this.unload();
    const count = this.readaheadBlocks;
    this.readaheadBlocks = Math.min(readaheadBlocksMax, count * 2);
    return this.table.readBlocks(i, count, this.fillCache).then((blocks) => {
      if (this.closed) return;
      this.window = blocks;
      this.windowStart = i;
      this.blockIter.setBlock(blocks[0]!);
      this.blockIndex = i;
    });
  }

  /** Makes block i current: synchronously when it is current already or cached. */
  private load(i: number): Step {
    if (i === this.blockIndex) return;
    this.unload();
    // A seek ends any sequential walk: the next miss reads a small window again.
    this.readaheadBlocks = readaheadBlocksMin;
    const k = i - this.windowStart;
    if (this.windowStart >= 0 && k >= 0 && k < this.window.length) {
      this.blockIter.setBlock(this.window[k]!);
      this.blockIndex = i;
      return;
    }
    const b = this.table.block(i, this.fillCache);
    if (b instanceof Block) {
      this.blockIter.setBlock(b);
      this.blockIndex = i;
      return;
    }
    return b.then((block) => {
      if (this.closed) return;
      this.blockIter.setBlock(block);
      this.blockIndex = i;
    });
  }

  private unload(): void {
    this.blockIter.clear();
    this.blockIndex = -1;
  }

  private checkOpen(): void {
    assert(!this.closed, 'TableIterator used after close');
  }
}
