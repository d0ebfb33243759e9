/**
 * The Store: one LSM tree — the engine under every tablet and every ring replica.
 *
 * Write path: a write joins the writer queue; the queue's head takes every write waiting behind
 * it (group commit), gives them contiguous sequence numbers, appends them to the WAL as ONE
 * record (so each batch is all or nothing), waits for the WAL's durability promise, inserts them
 * into the active memtable, and only then makes them visible and acknowledges them. A reader
 * therefore never sees a write that a crash could still take back.
 *
 * When the active memtable is full it is frozen together with its WAL and a new pair starts;
 * a background flush turns the oldest frozen memtable into a level-0 table and records it in
 * the manifest, after which its WAL is deleted. Too many frozen memtables or level-0 files make
 * writers wait (back-pressure) rather than let memory or read amplification grow without bound.
 *
 * Read path: a get merges the memtables and the tables that may hold the row (bloom filters
 * skip the rest) and resolves the row's cells with RowResolver at one sequence number; a scan
 * does the same over a key range with the version it started on pinned, so files it reads are
 * not deleted under it.
 *
 * Recovery: the manifest gives the file set and the oldest WAL still needed; every WAL from
 * there is replayed (a torn tail is the end of the log; damage before it is CORRUPTION), the
 * replayed memtable is written as a level-0 table, and a fresh WAL starts.
 */
import type { Env } from '../env/types.js';
import { copyBytes } from '../util/bytes.js';
import { isTesseraError, toTesseraError, TesseraError } from '../util/errors.js';
import { BlockCache } from './cache/index.js';
import { CompactionFilter } from './compaction-filter.js';
import { mergeTables } from './compaction-job.js';
import {
  levelBytes,
  levelScores,
  levelTargetBytes,
  overlapsRows,
  pickCompaction,
  pickFullCompaction,
  rowRangeOf,
  type CompactionPick,
} from './compaction-picker.js';
import type { EntryIterator } from './iterator.js';
import {
  columnEndKey,
  columnTrailerBytes,
  internalKey,
  parseInternalKey,
  rowPrefix,
  rowPrefixLength,
  rowStartKey,
  timestampOf,
} from './key.js';
import { LevelIterator } from './level-iterator.js';
import { readLog, recordBytes } from './log/index.js';
import {
  joinPath,
  parseFileName,
  tableFileName,
  VersionSet,
  walFileName,
  type Version,
  type FileMeta,
  type VersionEdit,
} from './manifest/index.js';
import { Memtable } from './memtable/index.js';
import { MergingIterator } from './merge-iterator.js';
import { compareBytesRaw, fileHoldsRow, findFileForRow, hasPrefix } from './row-lookup.js';
import { resolveOptions, type ResolvedOptions, type StoreOptions } from './options.js';
import { RateLimiter } from './rate-limiter.js';
import { RawRowCollector, type RawEntry } from './raw-row.js';
import { RowResolver, type Cell, type ReadOptions } from './row-resolver.js';

/** What a row read feeds the row's entries to: a RowResolver (get) or a RawRowCollector. */
interface RowSink {
  add(key: Uint8Array, value: Uint8Array): void;
  readonly columnEntriesSeen: number;
  canSkipColumn(key: Uint8Array): boolean;
}
import { TableOutput, type OutputContext } from './table-output.js';
import { TableCache } from './table-cache.js';
import { Block, type TableOptions, type TableReader } from './sstable/index.js';
import { Wal } from './wal.js';
import {
  decodeBatchPayload,
  encodeBatchPayload,
  type BatchEntry,
  type WriteBatch,
} from './write-batch.js';
import { Prng } from '../util/prng.js';

/** Most bytes of batches one group commit takes (bounds one WAL record). */
const groupBytesMax = 4 * 1024 * 1024;
/** Rows per batch of scanBatches when the caller does not say. */
const scanBatchRowsDefault = 256;
/** Entries of a column a point read steps through before it seeks past what it no longer needs. */
const sequentialSkipsMax = 4;
/** Room beyond a block's bytes a cache insert into free room leaves for its bookkeeping. */
const warmSlackBytes = 1024;
/** How long a writer is delayed, once per write, while level 0 is above the slowdown trigger. */
const slowdownDelayMs = 1;

export interface WriteOptions {
  /** With an interval-synced WAL, fsync before acknowledging this write. */
  readonly sync?: boolean;
}

export interface Snapshot {
  readonly seq: number;
  release(): void;
}

export type GetOptions = Omit<ReadOptions, 'snapshotSeq' | 'now'> & {
  readonly snapshot?: Snapshot;
};

export interface ScanOptions extends GetOptions {
  /** First row (inclusive); default: the first row. */
  readonly startRow?: Uint8Array;
  /** Row to stop before (exclusive); default: the end. */
  readonly stopRow?: Uint8Array;
  /** Most rows to return. */
  readonly limit?: number;
}

export interface RowResult {
  readonly row: Uint8Array;
  readonly cells: Cell[];
}

export interface StoreStats {
  /** Bytes of keys and values handed to write(). */
  userBytes: number;
  walBytes: number;
  flushBytes: number;
  compactionBytes: number;
  flushes: number;
  compactions: number;
  trivialMoves: number;
  /** Compactions thrown away because a write raced a tombstone they dropped. */
  compactionsDiscarded: number;
  /** Microseconds writers spent waiting on back-pressure. */
  stallMicros: number;
  walSyncs: number;
}

/** What metrics read from a store at scrape time (see `gauges()`): cheap, synchronous. */
export interface StoreGauges {
  /** Approximate bytes in the active and frozen memtables. */
  readonly memtableBytes: number;
  /** Frozen memtables waiting for their flush. */
  readonly frozenMemtables: number;
  /** Level-0 files (leveled) or runs (tiered). */
  readonly l0Files: number;
  /** Bytes in table files, all levels. */
  readonly tableBytes: number;
  /**
   * Bytes compaction is behind by, estimated as RocksDB's "pending compaction bytes" is: for
   * each level whose score is >= 1, its bytes beyond its target (all of level 0); tiered: the
   * bytes of the runs the picker would merge next. 0 when nothing needs compacting.
   */
  readonly compactionPendingBytes: number;
  /** The highest level score (leveled; >= 1 means a compaction is due), 0 for tiered. */
  readonly compactionScore: number;
  /** WAL fsyncs finished since the store opened, the current WAL's included. */
  readonly walSyncs: number;
  /** Bytes of blocks held in the block cache, and its capacity. */
  readonly blockCacheBytes: number;
  readonly blockCacheCapacityBytes: number;
  /** Block lookups that found / missed their block since the store opened. */
  readonly blockCacheHits: number;
  readonly blockCacheMisses: number;
}

interface PendingWrite {
  readonly entries: readonly BatchEntry[];
  readonly bytes: number;
  readonly sync: boolean;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

interface Frozen {
  readonly mem: Memtable;
  readonly walNumber: number;
  /** Smallest cell timestamp in the memtable (see compactionFilter). */
  readonly minTimestamp: number;
}

export class Store {
  /** Changes only through resizeMemory (the memory-derived fields). */
  private resolved: ResolvedOptions;
  /** The options as given, to resolve again for a new memory budget. */
  private readonly given: StoreOptions;
  readonly stats: StoreStats = {
    userBytes: 0,
    walBytes: 0,
    flushBytes: 0,
    compactionBytes: 0,
    flushes: 0,
    compactions: 0,
    trivialMoves: 0,
    compactionsDiscarded: 0,
    stallMicros: 0,
    walSyncs: 0,
  };

  private readonly blockCache: BlockCache;
  private readonly tables: TableCache;
  private readonly limiter: RateLimiter;
  private readonly tableOptions: TableOptions;
  /**
   * File numbers being written but not yet in the manifest (tables of running flushes and
   * compactions) plus the WALs still needed: obsolete-file collection never deletes these. It is
   * the VersionSet's own set, so a collection that lists the directory while a new file appears
   * still sees the new file's number.
   */
  private readonly pendingOutputs: Set<number>;
  private readonly snapshots = new Map<number, number>();
  private readonly queue: PendingWrite[] = [];
  private readonly waiters: (() => void)[] = [];
  private readonly memRandom: Prng;

  private mem: Memtable;
  /** Smallest cell timestamp in the active memtable. */
  private memMinTimestamp = Infinity;
  /** Smallest cell timestamp written since a compaction reset it (see compact()). */
  private writtenMinTimestamp = Infinity;
  private wal!: Wal;
  private walNumber = 0;
  private frozen: Frozen[] = [];
  /** Memtable memory charged against the block cache at the last fitBlockCache (-1: none yet). */
  private memtableCharge = -1;
  private lastSeq = 0;
  private writing = false;
  private flushing = false;
  private compacting = false;
  private closing = false;
  private closed = false;
  /** Set when background work or the WAL failed: the store then refuses writes. */
  private failure: TesseraError | undefined;
  private manualCompaction: Promise<void> | undefined;

  private constructor(
    readonly env: Env,
    private readonly versions: VersionSet,
    given: StoreOptions,
    options: ResolvedOptions,
  ) {
    this.given = given;
    this.resolved = options;
    this.pendingOutputs = versions.pendingOutputs;
    this.blockCache = new BlockCache(options.blockCacheBytes);
    this.tables = new TableCache(env, options.dir, this.blockCache);
    this.limiter = new RateLimiter(env, options.compactionRateBytesPerSec);
    this.tableOptions = {
      blockBytes: options.blockBytes,
      restartInterval: options.restartInterval,
      bloomBitsPerKey: options.bloomBitsPerKey,
      compression: options.compression,
      filterKey: rowPrefix,
      filterKeyLength: rowPrefixLength,
    };
    this.memRandom = new Prng(env.random.uint32());
    this.mem = this.newMemtable();
  }

  // -------------------------------------------------------------------------------------------
  // Open and recovery

  static async open(env: Env, storeOptions: StoreOptions): Promise<Store> {
    const options = resolveOptions(storeOptions);
    await env.fs.mkdir(options.dir, { recursive: true });
    const versions = (await env.fs.exists(joinPath(options.dir, 'CURRENT')))
      ? await VersionSet.recover(env, options.dir)
      : await VersionSet.create(env, options.dir);
    const store = new Store(env, versions, storeOptions, options);
    try {
      await store.recover();
      store.fitBlockCache();
    } catch (err) {
      // Leave nothing open behind a failed open; the first error is the one to report.
      await store.tables.closeAll().catch(() => undefined);
      await (store.wal as Wal | undefined)?.close().catch(() => undefined);
      await versions.close().catch(() => undefined);
      throw err;
    }
    store.scheduleBackground();
    return store;
  }

  private newMemtable(): Memtable {
    return new Memtable(this.memRandom.fork(), 0, rowPrefixLength, columnTrailerBytes);
  }

  private async recover(): Promise<void> {
    const dir = this.options.dir;
    this.lastSeq = this.versions.lastSequence;
    const wals = (await this.env.fs.list(dir))
      .map((name) => parseFileName(name))
      .filter((p) => p !== undefined && p.kind === 'wal' && p.number >= this.versions.logNumber)
      .map((p) => p!.number)
      .sort((a, b) => a - b);
    const ctx = this.outputContext(this.flushWarmer());
    let mem = this.newMemtable();
    const outputs: FileMeta[] = [];
    const flushReplayed = async (): Promise<void> => {
      if (mem.count === 0) return;
      const out = new TableOutput(ctx, 0, Infinity);
      const it = mem.iterator();
      for (it.seekToFirst(); it.valid(); it.next()) await out.add(it.key(), it.value());
      outputs.push(...(await out.finish()));
      mem = this.newMemtable();
    };
    for (const n of wals) {
      const path = joinPath(dir, walFileName(n));
      const log = await readLog(this.env.fs, path);
      for (const record of log.records) {
        const batch = decodeBatchPayload(record, path);
        batch.entries.forEach((e, i) => {
          const seq = batch.firstSeq + i;
          mem.add(internalKey(e.cellKey, seq), e.value);
          if (seq > this.lastSeq) this.lastSeq = seq;
        });
        if (mem.approximateBytes >= this.options.memtableBytes) await flushReplayed();
      }
    }
    await flushReplayed();
    await this.startWal();
    const edit: VersionEdit = {
      logNumber: this.walNumber,
      lastSequence: this.lastSeq,
      addedFiles: outputs,
      deletedFiles: [],
    };
    await this.versions.logAndApply(edit);
    for (const f of outputs) this.pendingOutputs.delete(f.fileNumber);
    await this.deleteObsoleteFiles();
  }

  private async startWal(): Promise<void> {
    const { wal, number } = await this.createWal();
    this.wal = wal;
    this.walNumber = number;
  }

  /** A new WAL file, registered as pending (collection keeps it) and its entry made durable. */
  private async createWal(): Promise<{ wal: Wal; number: number }> {
    const number = this.versions.newFileNumber();
    this.pendingOutputs.add(number);
    const path = joinPath(this.options.dir, walFileName(number));
    const wal = await Wal.create(this.env, path, this.options.wal);
    wal.onSync = this.options.onWalSync;
    // The WAL's directory entry must be durable before any record in it is acknowledged.
    await this.env.fs.syncDir(this.options.dir);
    return { wal, number };
  }

  get options(): ResolvedOptions {
    return this.resolved;
  }

  /**
   * Gives the store a new memory budget (a node rebalances its budget as tables come and go):
   * the memtable size, block cache and level-1 target are derived again from it, as at open,
   * and the block cache sheds blocks at once. A memtable over the new size is frozen by the
   * next write. INVALID_ARGUMENT when the memtables would not fit the budget.
   */
  resizeMemory(memoryBudgetBytes: number): void {
    this.resolved = resolveOptions({ ...this.given, memoryBudgetBytes });
    this.memtableCharge = -1;
    this.fitBlockCache();
  }

  /**
   * The memtables are charged to the block cache (RocksDB's WriteBufferManager charging its
   * cache): the budget's room for memtables — the active one and frozenMemtablesMax frozen,
   * all full — is block cache while they do not fill it, which is nearly always, since a
   * frozen memtable exists only while it flushes. As the memtables grow the cache gives the
   * room back, evicting its least recently used blocks, so the two together never hold more
   * than the static split allows. The charge is what the memtables allocated (arena chunks
   * used or not, row index), not only the bytes their entries use.
   *
   * The cache borrows at most one memtable's room (cacheBorrowMemtables): memory a flushed
   * memtable or an evicted block held is garbage until V8's next major GC, and lending all of
   * the room pushed a scan-heavy node (YCSB E, whose V8 heap also grows) past its budget.
   */
  private fitBlockCache(): void {
    let charge = this.mem.allocatedBytes;
    for (const f of this.frozen) charge += f.mem.allocatedBytes;
    if (charge === this.memtableCharge) return;
    this.memtableCharge = charge;
    this.blockCache.resize(blockCacheCapacity(this.options, charge));
  }

  // -------------------------------------------------------------------------------------------
  // Writes

  /** Applies the batch atomically; resolves once it is durable (per the WAL mode) and visible. */
  write(batch: WriteBatch, options: WriteOptions = {}): Promise<void> {
    if (this.closing || this.closed) {
      return Promise.reject(new TesseraError('SHUTTING_DOWN', 'store is closed'));
    }
    if (this.failure) return Promise.reject(this.failure);
    if (batch.count === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({
        entries: batch.entries,
        bytes: batch.approximateBytes,
        sync: options.sync ?? false,
        resolve,
        reject,
      });
      if (!this.writing) void this.runWriter();
    });
  }

  private async runWriter(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        try {
          await this.makeRoomForWrite();
        } catch (err) {
          this.failAll(err);
          continue;
        }
        const group = this.takeGroup();
        await this.commitGroup(group);
      }
    } finally {
      this.writing = false;
      this.wake();
    }
  }

  private takeGroup(): PendingWrite[] {
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || bytes + this.queue[n]!.bytes <= groupBytesMax)) {
      bytes += this.queue[n]!.bytes;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async commitGroup(group: PendingWrite[]): Promise<void> {
    const firstSeq = this.lastSeq + 1;
    const entries: BatchEntry[] = group.length === 1 ? (group[0]!.entries as BatchEntry[]) : [];
    if (group.length > 1) for (const w of group) entries.push(...w.entries);
    const payload = encodeBatchPayload(firstSeq, entries);
    try {
      await this.wal.append(payload, { owned: true });
      if (group.some((w) => w.sync) && this.options.wal.sync !== 'always') await this.wal.sync();
    } catch (err) {
      // A WAL that failed to write or sync cannot say what reached the disk: stop taking writes.
      this.failure = toTesseraError(err);
      for (const w of group) w.reject(this.failure);
      this.failAll(this.failure);
      return;
    }
    const mem = this.mem;
    let minTs = this.memMinTimestamp;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const key = internalKey(e.cellKey, firstSeq + i);
      const ts = timestampOf(key);
      if (ts < minTs) minTs = ts;
      mem.add(key, e.value);
    }
    this.fitBlockCache();
    this.memMinTimestamp = minTs;
    if (minTs < this.writtenMinTimestamp) this.writtenMinTimestamp = minTs;
    this.lastSeq = firstSeq + entries.length - 1;
    this.stats.walBytes += recordBytes(payload.length);
    for (const w of group) {
      this.stats.userBytes += w.bytes;
      w.resolve();
    }
  }

  private failAll(err: unknown): void {
    for (const w of this.queue.splice(0)) w.reject(err);
  }

  /** Waits until the write may go ahead: memtable room, frozen-memtable and L0 limits. */
  private async makeRoomForWrite(): Promise<void> {
    let slowed = false;
    for (;;) {
      if (this.failure) throw this.failure;
      // Closing stops compactions, so a writer waiting for room would wait forever: the writes
      // still queued are refused (never acknowledged, so nothing acknowledged is lost).
      if (this.closing || this.closed) throw new TesseraError('SHUTTING_DOWN', 'store is closing');
      const l0 = this.versions.current.files(0).length;
      const leveled = this.options.compactionStyle === 'leveled';
      const stop = leveled ? this.options.l0StopTrigger : this.options.l0StopTrigger * 4;
      if (l0 >= stop) {
        await this.stall();
        continue;
      }
      if (leveled && !slowed && l0 >= this.options.l0SlowdownTrigger) {
        slowed = true;
        const t0 = this.env.clock.monoMicros();
        await this.env.timers.sleep(slowdownDelayMs);
        this.stats.stallMicros += this.env.clock.monoMicros() - t0;
        continue;
      }
      if (this.mem.approximateBytes < this.options.memtableBytes) return;
      if (this.frozen.length >= this.options.frozenMemtablesMax) {
        await this.stall();
        continue;
      }
      await this.switchMemtable();
    }
  }

  private async stall(): Promise<void> {
    const t0 = this.env.clock.monoMicros();
    this.scheduleBackground();
    await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.stats.stallMicros += this.env.clock.monoMicros() - t0;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async switchMemtable(): Promise<void> {
    const oldWal = this.wal;
    const oldNumber = this.walNumber;
    const next = await this.createWal();
    // Switch synchronously, with no await between: a flush that finishes while we wait below
    // computes the manifest's log number from `frozen` and `walNumber`, and must see the old
    // memtable frozen together with its WAL — else it would declare that WAL obsolete while its
    // memtable is not flushed yet, and a crash would lose the memtable's writes.
    this.mem.freeze();
    this.frozen.push({ mem: this.mem, walNumber: oldNumber, minTimestamp: this.memMinTimestamp });
    this.mem = this.newMemtable();
    this.memMinTimestamp = Infinity;
    this.wal = next.wal;
    this.walNumber = next.number;
    // Everything in the old WAL must be durable before the new one holds acknowledged writes
    // (recovery replays WALs in order); writers wait for this switch, so none is in between.
    try {
      await oldWal.close();
    } catch (err) {
      // The old WAL's tail may not be durable: a later write must not become durable in the
      // new WAL ahead of it, so the store takes no more writes.
      this.failure ??= toTesseraError(err);
      throw this.failure;
    }
    this.stats.walSyncs += oldWal.syncCount;
    this.scheduleBackground();
  }

  // -------------------------------------------------------------------------------------------
  // Background flush and compaction

  private scheduleBackground(): void {
    // After a failure nothing more is written (and a flush loop that ends at once on the failure
    // must not restart itself from its finally, forever).
    if (this.closed || this.failure) return;
    if (!this.flushing && this.frozen.length > 0) {
      this.flushing = true;
      void this.runFlushes();
    }
    if (!this.compacting && !this.closing && this.manualCompaction === undefined) {
      const pick = this.pick();
      if (pick) {
        this.compacting = true;
        void this.runCompactions();
      }
    }
  }

  private pick(): CompactionPick | undefined {
    return pickCompaction(
      this.versions.current.levels,
      this.options,
      this.versions.compactPointers,
    );
  }

  private backgroundFailed(err: unknown): void {
    this.failure ??= toTesseraError(err);
    this.failAll(this.failure);
    this.wake();
  }

  private async runFlushes(): Promise<void> {
    try {
      while (this.frozen.length > 0 && !this.failure) {
        await this.flushOldest();
        this.wake();
      }
    } catch (err) {
      this.backgroundFailed(err);
    } finally {
      this.flushing = false;
      this.wake();
      this.scheduleBackground();
    }
  }

  private async flushOldest(): Promise<void> {
    const { mem } = this.frozen[0]!;
    const out = new TableOutput(this.outputContext(this.flushWarmer()), 0, Infinity);
    let files: FileMeta[];
    try {
      const filter = this.compactionFilter(undefined);
      const it = mem.iterator();
      for (it.seekToFirst(); it.valid(); it.next()) {
        if (filter.keep(it.key(), it.value())) await out.add(it.key(), it.value());
      }
      files = await out.finish();
    } catch (err) {
      const written = out.fileNumbers();
      out.abandon();
      for (const n of written) this.pendingOutputs.delete(n);
      throw err;
    }
    // After this edit the frozen memtable's WAL is no longer needed: the oldest WAL still
    // needed is the next frozen memtable's, or the active one's.
    const logNumber = this.frozen[1]?.walNumber ?? this.walNumber;
    await this.versions.logAndApply({
      logNumber,
      lastSequence: this.lastSeq,
      addedFiles: files,
      deletedFiles: [],
    });
    for (const n of out.fileNumbers()) this.pendingOutputs.delete(n);
    // Its WAL is below the new log number now: collection may delete it.
    this.pendingOutputs.delete(this.frozen.shift()!.walNumber);
    this.fitBlockCache();
    this.stats.flushes++;
    this.stats.flushBytes += out.bytesWritten;
    await this.deleteObsoleteFiles();
  }

  private async runCompactions(): Promise<void> {
    try {
      for (;;) {
        if (this.closing || this.failure || this.manualCompaction) break;
        const pick = this.pick();
        if (!pick) break;
        await this.compact(pick);
        this.wake();
      }
    } catch (err) {
      // A compaction stopped by close() is not a failure: its inputs are still the live files.
      if (!(this.closing && isTesseraError(err, 'SHUTTING_DOWN'))) this.backgroundFailed(err);
    } finally {
      this.compacting = false;
      this.wake();
    }
  }

  /**
   * Deletes mask by timestamp, not by write order, so a put outside a compaction (in a memtable
   * or a newer table) may be masked by a tombstone inside it; dropping that tombstone would
   * bring the put back. `minTimestampOutside` lets the filter drop only tombstones older than
   * everything outside: the memtables' smallest timestamps, and 0 (drop none) when any table
   * outside the inputs overlaps their rows.
   */
  private compactionFilter(pick: CompactionPick | undefined): CompactionFilter {
    let minTimestampOutside = this.memMinTimestamp;
    for (const f of this.frozen)
      minTimestampOutside = Math.min(minTimestampOutside, f.minTimestamp);
    if (pick?.bottommost) {
      const inputs = new Set([...pick.inputs, ...pick.nextInputs].map((f) => f.fileNumber));
      const range = rowRangeOf([...pick.inputs, ...pick.nextInputs]);
      for (const level of this.versions.current.levels) {
        for (const f of level) {
          if (!inputs.has(f.fileNumber) && overlapsRows(f, range)) minTimestampOutside = 0;
        }
      }
    }
    return new CompactionFilter({
      smallestSnapshot: this.smallestSnapshot(),
      now: this.env.clock.nowMicros(),
      bottommost: pick?.bottommost ?? false,
      tombstoneGraceMicros: this.options.tombstoneGraceMicros,
      familyLookup: this.options.familyOptions,
      minTimestampOutside: Number.isFinite(minTimestampOutside) ? minTimestampOutside : undefined,
    });
  }

  private async compact(pick: CompactionPick): Promise<void> {
    const inputs = [...pick.inputs, ...pick.nextInputs];
    const deletedFiles = inputs.map((f) => ({ level: f.level, fileNumber: f.fileNumber }));
    const last = pick.inputs[pick.inputs.length - 1]!;
    const compactPointers =
      pick.level > 0 && pick.level !== pick.outputLevel
        ? [{ level: pick.level, key: last.largest }]
        : [];
    if (pick.trivialMove) {
      await this.versions.logAndApply({
        deletedFiles,
        addedFiles: pick.inputs.map((f) => ({ ...f, level: pick.outputLevel })),
        compactPointers,
      });
      this.stats.trivialMoves++;
      return;
    }
    const cut = this.options.compactionStyle === 'tiered' ? Infinity : this.options.targetFileBytes;
    const out = new TableOutput(this.outputContext(this.compactionWarmer()), pick.outputLevel, cut);
    // Writes that arrive while the compaction runs are outside it too; if one has a timestamp
    // at or below a tombstone the compaction dropped, the output is discarded (see below).
    this.writtenMinTimestamp = Infinity;
    const filter = this.compactionFilter(pick);
    let files: FileMeta[];
    let droppedTombstoneMax: number;
    try {
      ({ files, droppedTombstoneMax } = await mergeTables(
        inputs,
        (f) => this.tables.get(f.fileNumber),
        filter,
        out,
        () => this.closing,
      ));
    } catch (err) {
      const written = out.fileNumbers();
      out.abandon();
      for (const n of written) this.pendingOutputs.delete(n);
      throw err;
    }
    if (this.writtenMinTimestamp <= droppedTombstoneMax) {
      // A write with an old timestamp raced the compaction: installing the output would
      // unmask it. Throw the output away; the next attempt sees the write in a memtable.
      for (const n of out.fileNumbers()) this.pendingOutputs.delete(n);
      this.stats.compactionsDiscarded++;
      await this.deleteObsoleteFiles();
      return;
    }
    await this.versions.logAndApply({ deletedFiles, addedFiles: files, compactPointers });
    for (const n of out.fileNumbers()) this.pendingOutputs.delete(n);
    this.stats.compactions++;
    this.stats.compactionBytes += out.bytesWritten;
    await this.deleteObsoleteFiles();
  }

  /**
   * Flushes the memtable and compacts everything into the last level (leveled) or one run
   * (tiered), dropping all that the compaction rules allow. For tests, tools and benchmarks.
   */
  async compactAll(): Promise<void> {
    await this.flush();
    while (this.compacting) await this.stall();
    const run = async (): Promise<void> => {
      const pick = pickFullCompaction(this.versions.current.levels, this.options);
      if (pick) await this.compact(pick);
    };
    this.manualCompaction = run();
    try {
      await this.manualCompaction;
    } finally {
      this.manualCompaction = undefined;
      this.wake(); // close() may be waiting for it
      this.scheduleBackground();
    }
  }

  /** Freezes the active memtable (when not empty) and waits until every frozen one is flushed. */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    while (this.writing) await this.stall();
    if (this.mem.count > 0) {
      this.writing = true;
      try {
        await this.switchMemtable();
      } finally {
        this.writing = false;
        this.wake(); // close() may be waiting for it
        // Writes that queued while the memtable switched have no writer yet.
        if (this.queue.length > 0) void this.runWriter();
      }
    }
    this.scheduleBackground();
    while (this.frozen.length > 0) {
      if (this.failure) throw this.failure;
      await this.stall();
    }
    if (this.failure) throw this.failure;
  }

  private outputContext(warm?: OutputContext['warm']): OutputContext {
    return {
      env: this.env,
      dir: this.options.dir,
      tableOptions: this.tableOptions,
      newFileNumber: () => this.versions.newFileNumber(),
      pendingOutputs: this.pendingOutputs,
      limiter: this.limiter,
      ...(warm === undefined ? {} : { warm }),
    };
  }

  /** Puts a block just written into the block cache, as a read of it would. */
  private cacheWrittenBlock(fileNumber: number, offset: number, contents: Uint8Array): void {
    if (contents.length > this.blockCache.capacityBytes) return; // could never be cached
    const path = joinPath(this.options.dir, tableFileName(fileNumber));
    const block = Block.parse(copyBytes(contents), path, offset);
    this.blockCache.insert(fileNumber, offset, block, block.chargeBytes);
  }

  /**
   * Flush output goes into the block cache whole (RocksDB's prepopulate_block_cache =
   * kFlushOnly): the rows just written are the likeliest to be read next, and until the flush
   * the memtable served them from memory. Without it every block of a new table missed once
   * and was read back from the file it had just been written to.
   */
  private flushWarmer(): OutputContext['warm'] {
    return (fileNumber, offset, contents) => this.cacheWrittenBlock(fileNumber, offset, contents);
  }

  /**
   * Compaction output is cached only into free room: it evicts nothing, so a compaction of
   * cold data cannot push out what readers use, and the free room its inputs leave in the
   * cache once they are deleted takes the next compaction's output. (Letting the output
   * inherit its inputs' cached share, evicting as it went, missed no fewer blocks under YCSB
   * and raised the node's peak RSS by 45-60 MiB: evicted blocks are garbage until a major GC.)
   */
  private compactionWarmer(): OutputContext['warm'] {
    return (fileNumber, offset, contents) => {
      if (this.blockCache.freeBytes < contents.length + warmSlackBytes) return;
      this.cacheWrittenBlock(fileNumber, offset, contents);
    };
  }

  private async deleteObsoleteFiles(): Promise<void> {
    for (const n of await this.versions.deleteObsoleteFiles()) await this.tables.evict(n);
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  /** The sequence number a read without a snapshot sees: every acknowledged write. */
  get visibleSequence(): number {
    return this.lastSeq;
  }

  snapshot(): Snapshot {
    const seq = this.lastSeq;
    this.snapshots.set(seq, (this.snapshots.get(seq) ?? 0) + 1);
    let released = false;
    return {
      seq,
      release: () => {
        if (released) return;
        released = true;
        const n = this.snapshots.get(seq)! - 1;
        if (n === 0) this.snapshots.delete(seq);
        else this.snapshots.set(seq, n);
      },
    };
  }

  private smallestSnapshot(): number {
    let s = this.lastSeq;
    for (const seq of this.snapshots.keys()) if (seq < s) s = seq;
    return s;
  }

  private readOptions(o: GetOptions): ReadOptions {
    // Field by field: spreading the caller's options object cost a point read ~5% of its time.
    return {
      snapshotSeq: o.snapshot?.seq ?? this.lastSeq,
      now: this.env.clock.nowMicros(),
      maxVersions: o.maxVersions,
      minTimestamp: o.minTimestamp,
      maxTimestamp: o.maxTimestamp,
      families: o.families,
      columns: o.columns,
      valueViews: o.valueViews,
    };
  }

  /** The cells of one row visible at the snapshot (default: now). Empty when there are none. */
  async get(row: Uint8Array, options: GetOptions = {}): Promise<Cell[]> {
    this.checkOpen();
    const resolver = new RowResolver(this.readOptions(options), this.options.familyOptions);
    await this.readRow(row, resolver);
    return resolver.cells();
  }

  /**
   * Every stored entry of the row visible now — puts and tombstones, all versions, in
   * internal-key order — for a coordinator that reconciles replicas (raw-row.ts).
   */
  async rawRow(row: Uint8Array): Promise<RawEntry[]> {
    this.checkOpen();
    const collector = new RawRowCollector(this.lastSeq);
    await this.readRow(row, collector);
    return collector.entries;
  }

  /** Feeds the row's entries, merged from every memtable and table, to `sink` in order. */
  private async readRow(row: Uint8Array, sink: RowSink): Promise<void> {
    const start = rowStartKey(row);
    const version = this.versions.current;
    version.ref();
    const opened: EntryIterator[] = [];
    const sources: EntryIterator[] = [];
    // Table seeks waiting for the disk, until they are awaited together.
    let pending: Promise<void>[] | undefined;
    try {
      // Every source is positioned here, on the row's first entry, and only those that hold
      // the row join the merge: a memtable's lookup is its row index, a table is asked its
      // bloom filter first. Most point reads then read one or two sources. Table seeks that
      // need the disk run at once and are awaited together.
      const joinIfRow = (it: EntryIterator): void => {
        if (it.valid() && hasPrefix(it.key(), start)) sources.push(it);
      };
      const seekTable = (reader: TableReader): void => {
        if (!reader.mayContain(start)) return;
        const it = reader.iterator();
        opened.push(it);
        const step = it.seek(start);
        if (step) {
          const joined = step.then(() => joinIfRow(it));
          // Observed at once: it may fail while a later table is still being opened, before
          // Promise.all below takes it, and an unobserved rejection ends a Node process.
          joined.catch(() => undefined);
          (pending ??= []).push(joined);
        } else joinIfRow(it);
      };
      const seekMem = (mem: Memtable): void => {
        if (mem.count === 0) return;
        // The row index finds the row's first entry, or that there is none, without a search.
        const it = mem.seekRow(start);
        if (it === undefined) return;
        opened.push(it);
        sources.push(it);
      };
      seekMem(this.mem);
      for (let i = this.frozen.length - 1; i >= 0; i--) seekMem(this.frozen[i]!.mem);
      for (const level of version.levels) {
        if (level.length === 0) continue;
        if (level === version.levels[0]) {
          for (const f of level) {
            if (!fileHoldsRow(f, start)) continue;
            const reader = this.tables.peek(f.fileNumber) ?? (await this.tables.get(f.fileNumber));
            seekTable(reader);
          }
        } else {
          const f = findFileForRow(level, start);
          if (f === undefined) continue;
          const reader = this.tables.peek(f.fileNumber) ?? (await this.tables.get(f.fileNumber));
          seekTable(reader);
        }
      }
      if (pending !== undefined) {
        // Every seek settles before any failure is thrown: no iterator closes under its read.
        const settled = await Promise.allSettled(pending);
        pending = undefined;
        for (const r of settled) if (r.status === 'rejected') throw r.reason;
      }
      if (sources.length === 0) return;
      // A table whose seek waited for the disk joins after the others: the merge's order of
      // sources only breaks ties, and keys are unique across sources (sequence numbers).
      const it = sources.length === 1 ? sources[0]! : MergingIterator.positioned(sources);
      while (it.valid() && hasPrefix(it.key(), start)) {
        const key = it.key();
        sink.add(key, it.value());
        // Past a few versions of a column the read no longer needs, one seek beats stepping
        // through the rest (RocksDB's max_sequential_skip_in_iterations, 8, is the same idea).
        const step =
          sink.columnEntriesSeen >= sequentialSkipsMax && sink.canSkipColumn(key)
            ? it instanceof MergingIterator
              ? it.seekForward(columnEndKey(key))
              : it.seek(columnEndKey(key))
            : it.next();
        if (step) await step;
      }
    } finally {
      // Left before the seeks were awaited (opening a later table failed): wait for them too.
      if (pending !== undefined) await Promise.allSettled(pending);
      for (const it of opened) it.close();
      version.unref();
    }
  }

  /** Rows in order from startRow to stopRow (exclusive), each with its visible cells. */
  async *scan(options: ScanOptions = {}): AsyncGenerator<RowResult> {
    for await (const batch of this.scanBatches(options)) yield* batch;
  }

  /**
   * The rows of `scan`, handed out `batchRows` at a time (default 256): one async step per
   * batch instead of per row, as HBase's scanner caching and LevelDB's nextv do. The whole
   * scan reads at one sequence number with its version pinned, so it sees one point in time
   * and the files it reads are not deleted under it.
   */
  async *scanBatches(
    options: ScanOptions & { readonly batchRows?: number } = {},
  ): AsyncGenerator<RowResult[]> {
    this.checkOpen();
    const ro = this.readOptions(options);
    const batchRows = Math.max(1, options.batchRows ?? scanBatchRowsDefault);
    const version = this.versions.current;
    version.ref();
    const sources: EntryIterator[] = [];
    try {
      const it = await this.scanSources(version, sources);
      const stop = options.stopRow ? rowStartKey(options.stopRow) : undefined;
      const s = options.startRow ? it.seek(rowStartKey(options.startRow)) : it.seekToFirst();
      if (s) await s;
      const resolver = new RowResolver(ro, this.options.familyOptions);
      let emitted = 0;
      const limit = options.limit ?? Infinity;
      let batch: RowResult[] = [];
      while (it.valid() && emitted < limit) {
        const key = it.key();
        const prefix = new Uint8Array(key.subarray(0, rowPrefixLength(key))); // a copy, even of a Buffer
        if (stop && compareBytesRaw(prefix, stop) >= 0) break;
        resolver.reset();
        while (it.valid() && hasPrefix(it.key(), prefix)) {
          resolver.add(it.key(), it.value());
          const n = it.next();
          if (n) await n;
        }
        const cells = resolver.cells();
        if (cells.length > 0) {
          emitted++;
          batch.push({ row: cells[0]!.row, cells });
          if (batch.length >= batchRows) {
            yield batch;
            batch = [];
          }
        }
      }
      if (batch.length > 0) yield batch;
    } finally {
      for (const s of sources) s.close();
      version.unref();
    }
  }

  /**
   * Every stored entry of the rows from startRow to stopRow (exclusive) — puts and tombstones,
   * all versions, as Store.rawRow gives one row — `batchRows` rows at a time, for the repair
   * and streaming of hashed tables (ring/anti-entropy.ts). Rows holding only tombstones are
   * given too: a tombstone one replica holds must reach the others. One sequence number and one
   * pinned version for the whole scan, as for scanBatches.
   */
  async *rawScanBatches(
    options: {
      readonly startRow?: Uint8Array;
      readonly stopRow?: Uint8Array;
      readonly batchRows?: number;
    } = {},
  ): AsyncGenerator<{ row: Uint8Array; entries: RawEntry[] }[]> {
    this.checkOpen();
    const snapshotSeq = this.lastSeq;
    const batchRows = Math.max(1, options.batchRows ?? scanBatchRowsDefault);
    const version = this.versions.current;
    version.ref();
    const sources: EntryIterator[] = [];
    try {
      const it = await this.scanSources(version, sources);
      const stop = options.stopRow ? rowStartKey(options.stopRow) : undefined;
      const s = options.startRow ? it.seek(rowStartKey(options.startRow)) : it.seekToFirst();
      if (s) await s;
      let batch: { row: Uint8Array; entries: RawEntry[] }[] = [];
      while (it.valid()) {
        const key = it.key();
        const prefix = new Uint8Array(key.subarray(0, rowPrefixLength(key)));
        if (stop && compareBytesRaw(prefix, stop) >= 0) break;
        const collector = new RawRowCollector(snapshotSeq);
        let row: Uint8Array | undefined;
        while (it.valid() && hasPrefix(it.key(), prefix)) {
          row ??= parseInternalKey(it.key()).row.slice();
          collector.add(it.key(), it.value());
          const n = it.next();
          if (n) await n;
        }
        if (row !== undefined && collector.entries.length > 0) {
          batch.push({ row, entries: collector.entries });
          if (batch.length >= batchRows) {
            yield batch;
            batch = [];
          }
        }
      }
      if (batch.length > 0) yield batch;
    } finally {
      for (const s of sources) s.close();
      version.unref();
    }
  }

  /**
   * The iterators a scan merges — memtables, level-0 tables, one level iterator per deeper
   * level — pushed onto `sources` (which the caller closes) and merged.
   */
  private async scanSources(version: Version, sources: EntryIterator[]): Promise<EntryIterator> {
    sources.push(this.mem.iterator());
    for (let i = this.frozen.length - 1; i >= 0; i--) sources.push(this.frozen[i]!.mem.iterator());
    const open = async (f: FileMeta): Promise<EntryIterator> =>
      (await this.tables.get(f.fileNumber)).iterator();
    for (const f of version.levels[0]!) sources.push(await open(f));
    for (let l = 1; l < version.levels.length; l++) {
      if (version.levels[l]!.length > 0) {
        sources.push(new LevelIterator(version.levels[l]!, open));
      }
    }
    return sources.length === 1 ? sources[0]! : new MergingIterator(sources);
  }

  private checkOpen(): void {
    if (this.closed) throw new TesseraError('SHUTTING_DOWN', 'store is closed');
  }

  // -------------------------------------------------------------------------------------------
  // Introspection and shutdown

  /** Files per level, for tools, tests and the benchmark. */
  levelSummary(): { level: number; files: number; bytes: number }[] {
    return this.versions.current.levels.map((files, level) => ({
      level,
      files: files.length,
      bytes: files.reduce((n, f) => n + f.size, 0),
    }));
  }

  /** Point-in-time gauges for metrics; no I/O. */
  gauges(): StoreGauges {
    const levels = this.versions.current.levels;
    let memtableBytes = this.mem.approximateBytes;
    for (const f of this.frozen) memtableBytes += f.mem.approximateBytes;
    let tableBytes = 0;
    for (const files of levels) tableBytes += levelBytes(files);
    let compactionPendingBytes = 0;
    let compactionScore = 0;
    if (this.options.compactionStyle === 'leveled') {
      const scores = levelScores(levels, this.options);
      for (let l = 0; l < scores.length; l++) {
        const score = scores[l]!;
        compactionScore = Math.max(compactionScore, score);
        if (score < 1) continue;
        const bytes = levelBytes(levels[l] ?? []);
        compactionPendingBytes +=
          l === 0 ? bytes : Math.max(0, bytes - levelTargetBytes(l, this.options));
      }
    } else {
      const pick = pickCompaction(levels, this.options);
      if (pick) compactionPendingBytes = levelBytes(pick.inputs);
    }
    return {
      memtableBytes,
      frozenMemtables: this.frozen.length,
      l0Files: levels[0]?.length ?? 0,
      tableBytes,
      compactionPendingBytes,
      compactionScore,
      // stats.walSyncs counts closed WALs; `wal` is unset only before open() finishes.
      walSyncs: this.stats.walSyncs + ((this.wal as Wal | undefined)?.syncCount ?? 0),
      blockCacheBytes: this.blockCache.usageBytes,
      blockCacheCapacityBytes: this.blockCache.capacityBytes,
      blockCacheHits: this.blockCache.hits,
      blockCacheMisses: this.blockCache.misses,
    };
  }

  /** Bytes held in memory against the budget: memtables, block cache, index and filters. */
  async memoryUsage(): Promise<{ memtables: number; blockCache: number; indexAndFilters: number }> {
    let memtables = this.mem.approximateBytes;
    for (const f of this.frozen) memtables += f.mem.approximateBytes;
    return {
      memtables,
      blockCache: this.blockCache.usageBytes,
      indexAndFilters: await this.tables.memoryBytes(),
    };
  }

  /**
   * Stops taking writes: a group already committing finishes, writes still queued are refused
   * with SHUTTING_DOWN (never acknowledged). Waits for running flushes (a compaction stops at
   * once), makes the WAL durable and closes files; rejects when the store had failed, since it
   * cannot then vouch for every acknowledged write. Frozen memtables not yet flushed stay in
   * their WALs and are replayed at the next open.
   */
  async close(): Promise<void> {
    if (this.closed || this.closing) return;
    this.closing = true;
    this.wake(); // writers stalled for room now give up (makeRoomForWrite)
    while (this.writing || this.flushing || this.compacting || this.manualCompaction) {
      await this.stall();
    }
    this.closed = true;
    try {
      // The WAL's own close makes every appended record durable, or reports that it could not.
      await this.wal.close();
    } finally {
      await this.tables.closeAll();
      await this.versions.close();
      this.wake();
    }
    // A failed store cannot say that everything it acknowledged is durable: close says so.
    if (this.failure) throw this.failure;
  }
}

/** Memtables' worth of room the block cache may borrow from them (see fitBlockCache). */
const cacheBorrowMemtables = 1;

/** The block cache's capacity while the memtables have allocated `memtableCharge` bytes. */
export function blockCacheCapacity(o: ResolvedOptions, memtableCharge: number): number {
  const room = o.blockCacheBytes + o.memtableBytes * (o.frozenMemtablesMax + 1);
  const ceiling = o.blockCacheBytes + o.memtableBytes * cacheBorrowMemtables;
  return Math.max(0, Math.min(ceiling, room - memtableCharge));
}
