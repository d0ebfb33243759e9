/**
 * The merge at the heart of a compaction: every input table read once (without filling the
 * block cache, so a compaction does not evict what readers use), merged into one sorted
 * stream, passed through the compaction filter, and written to the output tables.
 *
 * It also reports the newest timestamp of any tombstone the filter dropped: the store
 * discards the output when a write racing the compaction carries a timestamp at or below it
 * (deletes mask by timestamp, so installing the output would bring that write back to life).
 */
import { TesseraError } from '../util/errors.js';
import type { CompactionFilter } from './compaction-filter.js';
import type { EntryIterator } from './iterator.js';
import { Kind, kindOf, timestampOf } from './key.js';
import type { FileMeta } from './manifest/index.js';
import { MergingIterator } from './merge-iterator.js';
import type { TableReader } from './sstable/index.js';
import type { TableOutput } from './table-output.js';

export interface MergeResult {
  readonly files: FileMeta[];
  /** Newest timestamp of a dropped tombstone; -1 when none was dropped. */
  readonly droppedTombstoneMax: number;
}

export async function mergeTables(
  inputs: readonly FileMeta[],
  open: (f: FileMeta) => Promise<TableReader>,
  filter: CompactionFilter,
  out: TableOutput,
  stopped: () => boolean,
): Promise<MergeResult> {
  const iterators: EntryIterator[] = [];
  let droppedTombstoneMax = -1;
  try {
    for (const f of inputs) iterators.push((await open(f)).iterator({ fillCache: false }));
    const it = new MergingIterator(iterators);
    const s = it.seekToFirst();
    if (s) await s;
    while (it.valid()) {
      if (stopped()) throw new TesseraError('SHUTTING_DOWN', 'compaction stopped by close');
      const key = it.key();
      if (filter.keep(key, it.value())) await out.add(key, it.value());
      else if (kindOf(key) !== Kind.Put) {
        droppedTombstoneMax = Math.max(droppedTombstoneMax, timestampOf(key));
      }
      const n = it.next();
      if (n) await n;
    }
    return { files: await out.finish(), droppedTombstoneMax };
  } finally {
    for (const it of iterators) it.close();
  }
}
