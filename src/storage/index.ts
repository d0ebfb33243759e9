/**
 * The LSM storage engine under every tablet and every ring replica: WAL, memtable, SSTables,
 * manifest, compaction and block cache, reaching the disk only through the Env.
 *
 * The public face is the Store (one LSM tree), the WriteBatch that writes to it, the internal
 * key format that defines its sort order, and the data-model rules it applies on read and
 * compaction. Design notes: docs/storage.md; formats: docs/formats/{keys,wal,sstable,manifest}.md.
 */
export {
  Store,
  type GetOptions,
  type RowResult,
  type ScanOptions,
  type Snapshot,
  type StoreGauges,
  type StoreStats,
  type WriteOptions,
} from './store.js';
export {
  resolveOptions,
  type CompactionStyle,
  type Compression,
  type StoreOptions,
  type WalSyncMode,
} from './options.js';
export {
  WriteBatch,
  batchBytesMax,
  familyBytesMax,
  qualifierBytesMax,
  rowBytesMax,
  valueBytesMax,
} from './write-batch.js';
export { Kind, maxTimestamp, type CellCoordinates } from './key.js';
export type { Cell, ColumnRef, ReadOptions } from './row-resolver.js';
export {
  defaultFamilyOptions,
  checkFamilyOptions,
  type FamilyOptions,
  type FamilyOptionsLookup,
} from './family-options.js';
export { readLog, LogWriter, type LogReadResult } from './log/index.js';
export { resolveRawEntries, rawRowEntriesMax, type RawEntry } from './raw-row.js';
export { RateLimiter } from './rate-limiter.js';
