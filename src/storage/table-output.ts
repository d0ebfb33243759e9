/**
 * Writes the output of a flush or a compaction as one or more SSTables, cutting a new file
 * once the current one passes the target size — but only where a new row begins, so a row is
 * never split across two files of one level (compaction-picker.ts explains why that matters).
 *
 * Each output's file number is registered as a pending output before the file is created, so
 * obsolete-file collection never deletes a table that is being written but not yet in the
 * manifest. The caller installs the returned FileMetas with one manifest edit.
 */
import type { Env, File } from '../env/types.js';
import { assert } from '../util/assert.js';
import { copyBytes } from '../util/bytes.js';
import { rowPrefixLength, seqOf } from './key.js';
import { joinPath, tableFileName, type FileMeta } from './manifest/index.js';
import type { RateLimiter } from './rate-limiter.js';
import { TableBuilder, type TableOptions } from './sstable/index.js';

export interface OutputContext {
  readonly env: Env;
  readonly dir: string;
  readonly tableOptions: TableOptions;
  newFileNumber(): number;
  readonly pendingOutputs: Set<number>;
  readonly limiter: RateLimiter;
  /**
   * Offered every data block written (its file, offset and uncompressed contents, a view valid
   * only during the call): the store puts the blocks it wants into the block cache, so a table
   * fresh from a flush or compaction is read from memory instead of missing on every block once.
   */
  readonly warm?: (fileNumber: number, offset: number, contents: Uint8Array) => void;
}

/** Bytes of output between rate-limiter calls. */
const rateChunkBytes = 256 * 1024;
/**
 * Entries added between yields to the event loop. A flush or compaction feeds entries whose
 * awaits mostly resolve at once (microtasks, which run before any I/O callback), so without
 * a yield one job would hold every request of the process until it ended: a 90 MB compaction
 * lagged a node's event loop by 147 ms.
 */
const entriesPerYield = 256;

interface OpenOutput {
  readonly fileNumber: number;
  readonly file: File;
  readonly builder: TableBuilder;
  smallestSeq: number;
  largestSeq: number;
}

export class TableOutput {
  private current: OpenOutput | undefined;
  private readonly done: FileMeta[] = [];
  /**
   * Once the open file reaches the target size, the row prefix of the entry that got it there:
   * the file is cut before the first entry of any other row. Copied once per file, not per entry.
   */
  private cutAfterRow: Uint8Array | undefined;
  private unthrottledBytes = 0;
  private sinceYield = 0;
  private lastEstimate = 0;
  /** Bytes of finished tables (for write-amplification accounting). */
  bytesWritten = 0;

  constructor(
    private readonly ctx: OutputContext,
    private readonly level: number,
    /** Cut files near this size; Infinity writes one file (a tiered run, a flush). */
    private readonly targetFileBytes: number,
  ) {}

  /** Adds the next entry (keys strictly increasing across calls). */
  async add(key: Uint8Array, value: Uint8Array): Promise<void> {
    if (++this.sinceYield >= entriesPerYield) {
      this.sinceYield = 0;
      await new Promise<void>((resume) => this.ctx.env.timers.defer(resume));
    }
    if (this.cutAfterRow !== undefined && !hasRowPrefix(key, this.cutAfterRow)) {
      this.cutAfterRow = undefined;
      await this.finishCurrent();
    }
    const out = this.current ?? (await this.open());
    out.builder.add(key, value);
    const seq = seqOf(key);
    if (seq < out.smallestSeq) out.smallestSeq = seq;
    if (seq > out.largestSeq) out.largestSeq = seq;
    const estimate = out.builder.estimatedSize;
    if (this.cutAfterRow === undefined && estimate >= this.targetFileBytes) {
      this.cutAfterRow = copyBytes(key.subarray(0, rowPrefixLength(key)));
    }
    this.unthrottledBytes += estimate - this.lastEstimate;
    this.lastEstimate = estimate;
    if (this.unthrottledBytes >= rateChunkBytes) {
      const n = this.unthrottledBytes;
      this.unthrottledBytes = 0;
      await this.ctx.limiter.acquire(n);
    }
  }

  private async open(): Promise<OpenOutput> {
    const fileNumber = this.ctx.newFileNumber();
    this.ctx.pendingOutputs.add(fileNumber);
    const path = joinPath(this.ctx.dir, tableFileName(fileNumber));
    const file = await this.ctx.env.fs.open(path, { create: true, truncate: true });
    const warm = this.ctx.warm;
    const builder = new TableBuilder(
      file,
      path,
      this.ctx.tableOptions,
      warm === undefined ? undefined : (offset, contents) => warm(fileNumber, offset, contents),
    );
    this.lastEstimate = 0;
    this.current = {
      fileNumber,
      file,
      builder,
      smallestSeq: Number.MAX_SAFE_INTEGER,
      largestSeq: 0,
    };
    return this.current;
  }

  private async finishCurrent(): Promise<void> {
    const out = this.current!;
    this.current = undefined;
    let info;
    try {
      info = await out.builder.finish();
    } finally {
      await out.file.close();
    }
    assert(info.entries > 0, 'finished an empty table');
    this.bytesWritten += info.size;
    this.done.push({
      fileNumber: out.fileNumber,
      level: this.level,
      size: info.size,
      entries: info.entries,
      smallest: info.smallest,
      largest: info.largest,
      smallestSeq: out.smallestSeq,
      largestSeq: out.largestSeq,
    });
  }

  /** Finishes the last file; the tables are synced, their directory entries are not. */
  async finish(): Promise<FileMeta[]> {
    if (this.current) await this.finishCurrent();
    if (this.done.length > 0) await this.ctx.env.fs.syncDir(this.ctx.dir);
    return this.done;
  }

  /** Drops the outputs after a failure or a shutdown; their files become obsolete. */
  abandon(): void {
    const out = this.current;
    this.current = undefined;
    if (!out) return;
    out.builder.abandon();
    // The file is obsolete either way; a failed close has nothing left to lose.
    out.file.close().catch(() => undefined);
  }

  /** File numbers written; the caller clears them from pendingOutputs once installed. */
  fileNumbers(): number[] {
    const nums = this.done.map((f) => f.fileNumber);
    if (this.current) nums.push(this.current.fileNumber);
    return nums;
  }
}

function hasRowPrefix(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length <= prefix.length) return false;
  for (let i = prefix.length - 1; i >= 0; i--) if (key[i] !== prefix[i]) return false;
  return true;
}
