/**
 * Writes one SSTable: sorted entries in, an immutable file out (docs/formats/sstable.md).
 *
 * add() is synchronous and cheap: entries go into the current data block; a full block is
 * compressed, checksummed and appended to an output buffer, and the buffer is handed to the
 * file in large appends (writeBufferBytes) chained one after another, so building never waits
 * on the disk until finish(). The index entry for a block is written when the next key
 * arrives, so that it can be a short separator between the two blocks (LevelDB's trick).
 */
import type { File } from '../../env/types.js';
import { assert } from '../../util/assert.js';
import { ByteWriter } from '../../util/byte-io.js';
import { copyBytes } from '../../util/bytes.js';
import { crc32c, maskCrc } from '../../util/crc32c.js';
import { toTesseraError, type TesseraError } from '../../util/errors.js';
import { BlockBuilder } from './block-builder.js';
import { BloomBuilder } from './bloom.js';
import { compareRange } from './compare.js';
import { compressBlock } from './compression.js';
import { type BlockHandle, encodeFooter, encodeHandle, noBlock } from './footer.js';
import {
  blockTrailerBytes,
  CompressionType,
  compressionTypes,
  footerBytes,
  indexRestartInterval,
} from './format.js';
import { type ResolvedTableOptions, resolveTableOptions, type TableOptions } from './options.js';
import { encodeProperties } from './properties.js';
import { shortestSeparator, shortSuccessor } from './separator.js';

/** Output is handed to the file in appends of at least this many bytes (except the last). */
export const writeBufferBytes = 64 * 1024;
const initialKeyBytes = 64;

/** What finish() reports, for the manifest. */
export interface TableInfo {
  /** File size in bytes. */
  readonly size: number;
  readonly entries: number;
  readonly smallest: Uint8Array;
  readonly largest: Uint8Array;
}

type State = 'building' | 'finishing' | 'finished' | 'abandoned';

export class TableBuilder {
  private readonly options: ResolvedTableOptions;
  private readonly compression: CompressionType;
  private readonly dataBlock: BlockBuilder;
  private readonly indexBlock = new BlockBuilder(indexRestartInterval);
  private readonly indexValue = new ByteWriter(16);
  private readonly bloom: BloomBuilder | undefined;
  /** Bytes produced but not yet handed to the file. */
  private readonly pending = new ByteWriter(2 * writeBufferBytes);
  /** Bytes produced so far (handed to the file or pending): the offset of the next block. */
  private offset = 0;
  /** Bytes handed to the file so far. */
  private handedOff = 0;
  /** The chain of appends; each starts after the previous one finished. */
  private writes: Promise<void> = Promise.resolve();
  private failure: TesseraError | undefined;

  private lastKey = new Uint8Array(initialKeyBytes);
  private lastKeyLength = 0;
  private lastFilterKey = new Uint8Array(initialKeyBytes);
  private lastFilterKeyLength = -1;
  private smallest: Uint8Array | undefined;
  /** The finished block whose index entry waits for the next key (to pick a separator). */
  private pendingHandle: BlockHandle | undefined;

  private count = 0;
  private dataBlocks = 0;
  private rawKeyBytes = 0;
  private rawValueBytes = 0;
  private state: State = 'building';

  constructor(
    private readonly file: File,
    readonly path: string,
    options: TableOptions = {},
    /**
     * Called with each data block as it is written: its offset in the file and its contents
     * uncompressed, as a reader would parse them (a view valid only during the call). The
     * engine warms its block cache with it (see table-output.ts).
     */
    private readonly onDataBlock?: (offset: number, contents: Uint8Array) => void,
  ) {
    this.options = resolveTableOptions(options);
    this.compression = compressionTypes[this.options.compression];
    this.dataBlock = new BlockBuilder(this.options.restartInterval);
    this.bloom =
      this.options.bloomBitsPerKey > 0 ? new BloomBuilder(this.options.bloomBitsPerKey) : undefined;
  }

  /** Entries added so far. */
  get entries(): number {
    return this.count;
  }

  /**
   * The file size so far, counting the data block being built but not the filter, index and
   * footer finish() adds: what the engine compares with its target file size.
   */
  get estimatedSize(): number {
    return this.offset + this.dataBlock.sizeEstimate;
  }

  /** Adds an entry. Keys must strictly increase (byte order). */
  add(key: Uint8Array, value: Uint8Array): void {
    // Messages are built only on failure: this runs once per entry.
    if (this.state !== 'building') assert(false, `TableBuilder.add while ${this.state}`);
    if (this.failure) throw this.failure;
    if (this.count === 0) {
      this.smallest = copyBytes(key);
    } else if (compareRange(this.lastKey, 0, this.lastKeyLength, key) >= 0) {
      assert(false, `TableBuilder.add: keys must strictly increase (${this.path})`);
    }
    if (this.pendingHandle) {
      const last = this.lastKey.subarray(0, this.lastKeyLength);
      this.addIndexEntry(shortestSeparator(last, key), this.pendingHandle);
      this.pendingHandle = undefined;
    }
    if (this.bloom) this.addToFilter(key);

    this.dataBlock.add(key, value);
    if (this.lastKey.length < key.length) this.lastKey = new Uint8Array(key.length * 2);
    this.lastKey.set(key);
    this.lastKeyLength = key.length;
    this.count++;
    this.rawKeyBytes += key.length;
    this.rawValueBytes += value.length;
    if (this.dataBlock.sizeEstimate >= this.options.blockBytes) this.flushDataBlock();
  }

  /**
   * Writes the filter, index, properties and footer, waits for every append, then syncs the
   * file (the caller closes it and syncs the directory). A table holds at least one entry: a
   * builder with nothing added must be abandoned instead.
   */
  async finish(): Promise<TableInfo> {
    assert(this.state === 'building', `TableBuilder.finish while ${this.state}`);
    assert(this.count > 0, `TableBuilder.finish with no entries (${this.path}): abandon it`);
    this.state = 'finishing';
    if (!this.dataBlock.empty) this.flushDataBlock();
    const largest = copyBytes(this.lastKey.subarray(0, this.lastKeyLength));
    if (this.pendingHandle) {
      this.addIndexEntry(shortSuccessor(largest), this.pendingHandle);
      this.pendingHandle = undefined;
    }
    const filter = this.bloom
      ? this.writeBlock(this.bloom.finish(), CompressionType.None)
      : noBlock;
    const index = this.writeBlock(this.indexBlock.finish(), this.compression);
    const smallest = this.smallest!;
    const propertiesBytes = encodeProperties({
      entries: this.count,
      dataBlocks: this.dataBlocks,
      rawKeyBytes: this.rawKeyBytes,
      rawValueBytes: this.rawValueBytes,
      filterKeys: this.bloom?.keys ?? 0,
      compression: this.options.compression,
      smallest,
      largest,
    });
    const properties = this.writeBlock(propertiesBytes, CompressionType.None);
    this.pending.bytes(encodeFooter({ index, filter, properties }));
    this.offset += footerBytes;
    this.handOff();
    await this.writes;
    if (this.failure) throw this.failure;
    await this.file.sync();
    this.state = 'finished';
    return { size: this.offset, entries: this.count, smallest, largest };
  }

  /**
   * Stops building and drops buffered output; appends already handed to the file may still
   * land. The caller removes the file.
   */
  abandon(): void {
    this.state = 'abandoned';
    this.pending.reset();
  }

  private addToFilter(key: Uint8Array): void {
    const prefixLength = this.options.filterKeyLength;
    if (prefixLength) {
      this.addPrefixToFilter(key, prefixLength(key));
      return;
    }
    const filterKey = this.options.filterKey;
    if (!filterKey) {
      this.bloom!.add(key); // keys are distinct already
      return;
    }
    const fk = filterKey(key);
    // Rows span many consecutive keys: add each row's filter key once.
    if (compareRange(this.lastFilterKey, 0, this.lastFilterKeyLength, fk) === 0) return;
    this.bloom!.add(fk);
    if (this.lastFilterKey.length < fk.length) this.lastFilterKey = new Uint8Array(fk.length * 2);
    this.lastFilterKey.set(fk);
    this.lastFilterKeyLength = fk.length;
  }

  /** addToFilter for a prefix filter key: compares and copies in place, one view per row. */
  private addPrefixToFilter(key: Uint8Array, n: number): void {
    let last = this.lastFilterKey;
    if (n === this.lastFilterKeyLength) {
      let same = true;
      for (let i = n - 1; i >= 0; i--) {
        if (key[i] !== last[i]) {
          same = false;
          break;
        }
      }
      if (same) return;
    }
    // Off-heap from the start (over 64 bytes), so the view below costs V8 nothing extra.
    if (last.length < n || last.length <= 64) {
      last = this.lastFilterKey = new Uint8Array(Math.max(128, n * 2));
    }
    for (let i = 0; i < n; i++) last[i] = key[i]!;
    this.lastFilterKeyLength = n;
    this.bloom!.add(last.subarray(0, n));
  }

  private addIndexEntry(separator: Uint8Array, handle: BlockHandle): void {
    this.indexValue.reset();
    encodeHandle(this.indexValue, handle);
    this.indexBlock.add(separator, this.indexValue.peek());
  }

  private flushDataBlock(): void {
    const contents = this.dataBlock.finish();
    this.pendingHandle = this.writeBlock(contents, this.compression);
    this.onDataBlock?.(this.pendingHandle.offset, contents);
    this.dataBlock.reset();
    this.dataBlocks++;
  }

  /** Appends a block and its trailer to the output; returns its handle. */
  private writeBlock(raw: Uint8Array, type: CompressionType): BlockHandle {
    const block = compressBlock(raw, type);
    const handle = { offset: this.offset, size: block.bytes.length };
    const start = this.pending.length;
    this.pending.bytes(block.bytes).u8(block.type);
    // The checksum covers the contents and the type byte, read back from the output buffer.
    this.pending.u32(maskCrc(crc32c(this.pending.peek().subarray(start))));
    this.offset += block.bytes.length + blockTrailerBytes;
    if (this.pending.length >= writeBufferBytes) this.handOff();
    return handle;
  }

  /** Queues the pending output as one append after the ones before it. */
  private handOff(): void {
    if (this.pending.length === 0) return;
    const chunk = this.pending.finish();
    this.pending.reset();
    const expected = this.handedOff;
    this.handedOff += chunk.length;
    this.writes = this.writes.then(async () => {
      if (this.failure || this.state === 'abandoned') return;
      try {
        const at = await this.file.append(chunk);
        assert(at === expected, `${this.path}: append landed at ${at}, expected ${expected}`);
      } catch (err) {
        this.failure ??= toTesseraError(err);
      }
    });
  }
}
