/**
 * Store options, their defaults, and the memory budget that bounds them.
 *
 * One budget (default 256 MiB) covers the memtables (active + frozen), the block cache, and the
 * index and filter blocks of open tables: the block cache gets what the memtables and the
 * index/filter reserve leave. Every bound is named with its unit last.
 */
import { invalidArgument } from '../util/errors.js';
import { defaultFamilyOptions, type FamilyOptionsLookup } from './family-options.js';

export type WalSyncMode =
  { readonly sync: 'always' } | { readonly sync: 'interval'; readonly intervalMs: number };

export type CompactionStyle = 'leveled' | 'tiered';
export type Compression = 'none' | 'snappy';

export interface StoreOptions {
  /** Directory of the store, relative to the Env's file-system root. */
  readonly dir: string;
  /** Durability of acknowledged writes (default: fsync before acknowledging). */
  readonly wal?: WalSyncMode;
  /** Total memory for memtables, block cache and index/filter blocks. */
  readonly memoryBudgetBytes?: number;
  /** Size at which the active memtable is frozen and flushed. Default: budget / 8. */
  readonly memtableBytes?: number;
  /** Frozen memtables waiting for flush before writers must wait (back-pressure). */
  readonly frozenMemtablesMax?: number;
  readonly blockBytes?: number;
  readonly restartInterval?: number;
  readonly bloomBitsPerKey?: number;
  readonly compression?: Compression;
  readonly compactionStyle?: CompactionStyle;
  /** Leveled: L0 file count that starts a compaction, slows writers, stops writers. */
  readonly l0CompactionTrigger?: number;
  readonly l0SlowdownTrigger?: number;
  readonly l0StopTrigger?: number;
  /** Leveled: target size of L1; each deeper level is levelMultiplier times larger. */
  readonly levelBaseBytes?: number;
  readonly levelMultiplier?: number;
  /** Compaction output files are cut near this size (at a row boundary). */
  readonly targetFileBytes?: number;
  /** Tiered: how many similar-sized runs are merged at once. */
  readonly tierMergeWidth?: number;
  /** Bytes per second compaction and flush may write; 0 = unlimited. */
  readonly compactionRateBytesPerSec?: number;
  /** Tombstones are kept this long after their timestamp before compaction may drop them. */
  readonly tombstoneGraceMicros?: number;
  /** Per-family max versions and TTL. */
  readonly familyOptions?: FamilyOptionsLookup;
  /** Open table files kept (their index and filter stay in memory). */
  readonly openTablesMax?: number;
  /**
   * Hears each WAL fsync's duration in microseconds (env.clock.monoMicros()), for metrics.
   * Absent: no clock is read for it. Called on the WAL's path: keep it cheap; it must not throw.
   */
  readonly onWalSync?: (micros: number) => void;
}

export type ResolvedOptions = Required<Omit<StoreOptions, 'onWalSync'>> & {
  readonly blockCacheBytes: number;
  readonly onWalSync: ((micros: number) => void) | undefined;
};

const mib = 1024 * 1024;
/** Reserve of the budget for index and filter blocks of open tables. */
const indexFilterShare = 8;

function positive(name: string, v: number, min = 1): number {
  if (!Number.isFinite(v) || v < min) {
    throw invalidArgument(`store option ${name} must be a number >= ${min}, got ${v}`);
  }
  return v;
}

export function resolveOptions(o: StoreOptions): ResolvedOptions {
  const memoryBudgetBytes = positive('memoryBudgetBytes', o.memoryBudgetBytes ?? 256 * mib, mib);
  const memtableBytes = positive(
    'memtableBytes',
    o.memtableBytes ?? Math.floor(memoryBudgetBytes / 8),
    4096,
  );
  const frozenMemtablesMax = positive('frozenMemtablesMax', o.frozenMemtablesMax ?? 2);
  const reserve = Math.floor(memoryBudgetBytes / indexFilterShare);
  const blockCacheBytes = memoryBudgetBytes - memtableBytes * (frozenMemtablesMax + 1) - reserve;
  if (blockCacheBytes < 0) {
    throw invalidArgument(
      `memtables (${frozenMemtablesMax + 1} × ${memtableBytes} bytes) do not fit the memory ` +
        `budget of ${memoryBudgetBytes} bytes`,
    );
  }
  const l0CompactionTrigger = positive('l0CompactionTrigger', o.l0CompactionTrigger ?? 4);
  const l0SlowdownTrigger = positive('l0SlowdownTrigger', o.l0SlowdownTrigger ?? 8);
  const l0StopTrigger = positive('l0StopTrigger', o.l0StopTrigger ?? 12);
  if (!(l0CompactionTrigger <= l0SlowdownTrigger && l0SlowdownTrigger <= l0StopTrigger)) {
    throw invalidArgument('need l0CompactionTrigger <= l0SlowdownTrigger <= l0StopTrigger');
  }
  const wal = o.wal ?? { sync: 'always' };
  if (wal.sync === 'interval') positive('wal.intervalMs', wal.intervalMs);
  return {
    dir: o.dir,
    wal,
    memoryBudgetBytes,
    memtableBytes,
    frozenMemtablesMax,
    blockCacheBytes,
    blockBytes: positive('blockBytes', o.blockBytes ?? 4096, 256),
    restartInterval: positive('restartInterval', o.restartInterval ?? 16),
    bloomBitsPerKey: positive('bloomBitsPerKey', o.bloomBitsPerKey ?? 10, 0),
    compression: o.compression ?? 'none',
    compactionStyle: o.compactionStyle ?? 'leveled',
    l0CompactionTrigger,
    l0SlowdownTrigger,
    l0StopTrigger,
    // L1 about the size of a full L0 (RocksDB's advice): an L0 compaction then rewrites about
    // as much of L1 as it brings, which keeps write amplification near levelMultiplier per level.
    levelBaseBytes: positive(
      'levelBaseBytes',
      o.levelBaseBytes ?? Math.max(10 * mib, memtableBytes * l0CompactionTrigger),
      4096,
    ),
    levelMultiplier: positive('levelMultiplier', o.levelMultiplier ?? 10, 2),
    targetFileBytes: positive('targetFileBytes', o.targetFileBytes ?? 4 * mib, 4096),
    tierMergeWidth: positive('tierMergeWidth', o.tierMergeWidth ?? 4, 2),
    compactionRateBytesPerSec: positive(
      'compactionRateBytesPerSec',
      o.compactionRateBytesPerSec ?? 0,
      0,
    ),
    tombstoneGraceMicros: positive('tombstoneGraceMicros', o.tombstoneGraceMicros ?? 0, 0),
    familyOptions: o.familyOptions ?? (() => defaultFamilyOptions),
    openTablesMax: positive('openTablesMax', o.openTablesMax ?? 1000),
    onWalSync: o.onWalSync,
  };
}
