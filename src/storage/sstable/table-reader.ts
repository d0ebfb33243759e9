/**
 * An open SSTable: footer, index, filter and properties in memory; data blocks read on demand
 * through the block cache.
 *
 * Opening reads the footer and the three meta blocks and checks them all (checksums, magic,
 * version, that the index tiles the data region), so a table that opens has a sound skeleton;
 * data blocks are checked when read. Everything raised for bad bytes is CORRUPTION naming the
 * file (and the block offset where there is one).
 */
import type { BlockCache } from '../cache/lru-cache.js';
import type { File, FileSystem } from '../../env/types.js';
import { corruption } from '../../util/errors.js';
import type { EntryIterator } from '../iterator.js';
import { Block } from './block.js';
import { checkBlock, readBlock } from './block-reader.js';
import { BloomFilter } from './bloom.js';
import { decodeFooter, type Footer } from './footer.js';
import { blockTrailerBytes, footerBytes } from './format.js';
import { decodeProperties, type TableProperties } from './properties.js';
import { TableIndex } from './table-index.js';
import { TableIterator, type TableIteratorOptions } from './table-iterator.js';

export interface TableReaderOptions {
  /** Whether iterators put the blocks they read into the cache unless told otherwise (default true). */
  readonly fillCache?: boolean;
}

interface CacheWish {
  /** Whether any of the readers waiting for a block wants it cached. */
  fillCache: boolean;
}

interface PendingRead {
  readonly block: Promise<Block>;
  readonly wish: CacheWish;
}

export class TableReader {
  /** Data blocks read from the file (cache misses), for tests and metrics. */
  blockReads = 0;
  private closed = false;
  /** Data block reads in flight, by offset. */
  private readonly reading = new Map<number, PendingRead>();

  private constructor(
    private readonly file: File,
    readonly path: string,
    readonly fileNumber: number,
    /** File size in bytes. */
    readonly size: number,
    private readonly cache: BlockCache | undefined,
    private readonly index: TableIndex,
    private readonly filter: BloomFilter | undefined,
    /** What the table holds (entry count, key range, raw sizes). */
    readonly info: TableProperties,
    private readonly fillCacheDefault: boolean,
  ) {}

  static async open(
    fs: FileSystem,
    path: string,
    fileNumber: number,
    cache: BlockCache | undefined,
    options: TableReaderOptions = {},
  ): Promise<TableReader> {
    const file = await fs.open(path, { readOnly: true });
    try {
      const size = await file.size();
      if (size < footerBytes) {
        throw corruption(`${path} is too short (${size} bytes) to be a table`, { path, size });
      }
      const footer = decodeFooter(await file.read(size - footerBytes, footerBytes), path, size);
      const [indexData, filterData, propertiesData] = await Promise.all([
        readBlock(file, path, footer.index),
        footer.filter.size > 0 ? readBlock(file, path, footer.filter) : undefined,
        readBlock(file, path, footer.properties),
      ]);
      const info = decodeProperties(propertiesData, path, footer.properties.offset);
      const index = TableIndex.parse(
        Block.parse(indexData, path, footer.index.offset),
        path,
        dataEnd(footer),
      );
      if (index.count !== info.dataBlocks) {
        throw corruption(
          `${path}: index lists ${index.count} blocks, properties ${info.dataBlocks}`,
          {
            path,
          },
        );
      }
      const filter = filterData && BloomFilter.parse(filterData, path, footer.filter.offset);
      return new TableReader(
        file,
        path,
        fileNumber,
        size,
        cache,
        index,
        filter,
        info,
        options.fillCache ?? true,
      );
    } catch (err) {
      await file.close().catch(() => {});
      throw err;
    }
  }

  /** Memory held while the table is open (index and filter), for the table cache's budget. */
  get approximateMemoryBytes(): number {
    return this.index.byteLength + (this.filter?.byteLength ?? 0);
  }

  /** Data blocks in the table. */
  get dataBlocks(): number {
    return this.index.count;
  }

  /**
   * False only when the table holds no key whose filter key (TableOptions.filterKey) is
   * `filterKey`; true always for a table built without a filter.
   */
  mayContain(filterKey: Uint8Array): boolean {
    return this.filter === undefined || this.filter.mayContain(filterKey);
  }

  /** The approximate file offset where `key` would be: for size estimates of key ranges. */
  approximateOffsetOf(key: Uint8Array): number {
    const i = this.index.find(key);
    return i < this.index.count ? this.index.offset(i) : this.size;
  }

  iterator(options: TableIteratorOptions = {}): EntryIterator {
    return new TableIterator(this, this.index, options.fillCache ?? this.fillCacheDefault);
  }

  /**
   * Data block i: from the cache when there (synchronously), else a Promise of a disk read.
   * Internal to the sstable module (the table iterator's entry point).
   */
  block(i: number, fillCache: boolean): Block | Promise<Block> {
    const offset = this.index.offset(i);
    if (this.cache) {
      const hit = this.cache.get(this.fileNumber, offset);
      if (hit instanceof Block) return hit;
    }
    // Readers that miss on a block already being read wait for that read, not a second one.
    const inFlight = this.reading.get(offset);
    if (inFlight) {
      inFlight.wish.fillCache ||= fillCache;
      return inFlight.block;
    }
    const wish = { fillCache };
    const block = this.readDataBlock(offset, this.index.size(i), wish);
    this.reading.set(offset, { block, wish });
    return block;
  }

  /** Data block i if it is in the block cache (no disk read). */
  cachedBlock(i: number): Block | undefined {
    const hit = this.cache?.get(this.fileNumber, this.index.offset(i));
    return hit instanceof Block ? hit : undefined;
  }

  /**
   * Data blocks i … i+count−1 with ONE read (they are contiguous on disk): the readahead of
   * sequential scans and compactions, which would otherwise pay a disk round trip per ~4 KiB.
   * Each block is checksummed and parsed as a single read would; with `fillCache` they are
   * cached (blocks already cached are taken from the cache, not replaced).
   */
  async readBlocks(i: number, count: number, fillCache: boolean): Promise<Block[]> {
    const last = Math.min(this.index.count, i + count) - 1;
    const start = this.index.offset(i);
    const end = this.index.offset(last) + this.index.size(last) + blockTrailerBytes;
    this.blockReads++;
    const raw = await this.file.read(start, end - start);
    const blocks: Block[] = [];
    for (let j = i; j <= last; j++) {
      const offset = this.index.offset(j);
      const size = this.index.size(j);
      const cached = this.cache?.get(this.fileNumber, offset);
      if (cached instanceof Block) {
        blocks.push(cached);
        continue;
      }
      const at = offset - start;
      const contents = checkBlock(
        raw.subarray(at, Math.min(raw.length, at + size + blockTrailerBytes)),
        this.path,
        { offset, size },
      );
      const block = Block.parse(contents, this.path, offset);
      if (fillCache && this.cache)
        this.cache.insert(this.fileNumber, offset, block, block.chargeBytes);
      blocks.push(block);
    }
    return blocks;
  }

  /** Closes the file. Cached blocks stay (they are still right if the table is reopened). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.file.close();
  }

  private async readDataBlock(offset: number, size: number, wish: CacheWish): Promise<Block> {
    try {
      this.blockReads++;
      const contents = await readBlock(this.file, this.path, { offset, size });
      const block = Block.parse(contents, this.path, offset);
      if (wish.fillCache && this.cache) {
        this.cache.insert(this.fileNumber, offset, block, block.chargeBytes);
      }
      return block;
    } finally {
      this.reading.delete(offset);
    }
  }
}

/** The data region ends where the first meta block starts. */
function dataEnd(f: Footer): number {
  const starts = [f.index.offset, f.properties.offset];
  if (f.filter.size > 0) starts.push(f.filter.offset);
  return Math.min(...starts);
}
