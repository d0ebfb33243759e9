/**
 * Open SSTable readers, by file number. Opening a table reads its footer, index and filter, so
 * a reader is opened once and shared by every get, scan and compaction; concurrent first uses
 * share one open. A reader is closed when its file becomes obsolete (no version references it,
 * so no iterator can be using it) or when the store closes.
 */
import type { Env } from '../env/types.js';
import type { BlockCache } from './cache/index.js';
import { joinPath, tableFileName } from './manifest/index.js';
import { TableReader } from './sstable/index.js';

export class TableCache {
  private readonly readers = new Map<number, Promise<TableReader>>();
  /** Readers whose open finished, for the synchronous path of point reads. */
  private readonly opened = new Map<number, TableReader>();

  constructor(
    private readonly env: Env,
    private readonly dir: string,
    private readonly blockCache: BlockCache,
  ) {}

  get(fileNumber: number): Promise<TableReader> {
    let p = this.readers.get(fileNumber);
    if (!p) {
      const path = joinPath(this.dir, tableFileName(fileNumber));
      p = TableReader.open(this.env.fs, path, fileNumber, this.blockCache);
      // A failed open is not cached: the next use retries and reports the error again.
      p.then(
        (r) => {
          if (this.readers.get(fileNumber) === p) this.opened.set(fileNumber, r);
        },
        () => this.readers.delete(fileNumber),
      );
      this.readers.set(fileNumber, p);
    }
    return p;
  }

  /** The reader if it is already open (the synchronous fast path of point reads). */
  peek(fileNumber: number): TableReader | undefined {
    return this.opened.get(fileNumber);
  }

  async evict(fileNumber: number): Promise<void> {
    const p = this.readers.get(fileNumber);
    if (!p) return;
    this.readers.delete(fileNumber);
    this.opened.delete(fileNumber);
    this.blockCache.evictFile(fileNumber);
    try {
      (await p).close();
    } catch {
      // It never opened; nothing to close.
    }
  }

  get openCount(): number {
    return this.readers.size;
  }

  /** Index and filter bytes held by open readers (part of the memory budget). */
  async memoryBytes(): Promise<number> {
    let n = 0;
    for (const p of this.readers.values()) {
      try {
        n += (await p).approximateMemoryBytes;
      } catch {
        // Failed opens hold nothing.
      }
    }
    return n;
  }

  async closeAll(): Promise<void> {
    for (const n of [...this.readers.keys()]) await this.evict(n);
  }
}
