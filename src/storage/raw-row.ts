/**
 * Raw rows: a row's stored entries — puts AND tombstones — as data, and the resolution of
 * entries gathered from several replicas into the cells a reader sees.
 *
 * Why: a hashed table keeps each row on N replicas, and a coordinator reconciles what replicas
 * answer by cell timestamp (last write wins). Resolved cells are not enough for that. If
 * replica A holds put@10 and replica B holds put@10 then deleteColumn@20, B resolves to
 * nothing and A to put@10, and no merge of the two answers can tell that the delete wins.
 * Merging the entries themselves and resolving once, with the same RowResolver a local read
 * uses (row-resolver.ts states the rules), gives exactly what one store holding every
 * replica's writes would answer.
 *
 * Merging entries from different stores: sequence numbers are per store and mean nothing
 * across them, so every entry gets the same sequence number. Two entries with the same cell key
 * (coordinates, timestamp and kind) are then one entry; for two puts whose values differ the
 * greater value (bytewise) wins, Cassandra's tie-break, so every coordinator picks the same.
 */
import { compareBytes } from '../util/bytes.js';
import { invalidArgument } from '../util/errors.js';
import type { FamilyOptionsLookup } from './family-options.js';
import { encodeCellKey, internalKey, kindFromEnd, Kind, parseInternalKey, seqOf } from './key.js';
import { RowResolver, type Cell, type ReadOptions } from './row-resolver.js';

/** One stored entry of a row: a put (with its value) or a tombstone (empty value). */
export interface RawEntry {
  readonly family: Uint8Array;
  readonly qualifier: Uint8Array;
  readonly timestamp: number;
  readonly kind: Kind;
  readonly value: Uint8Array;
}

/** A raw read of a row stops with INVALID_ARGUMENT past this many entries. */
export const rawRowEntriesMax = 100_000;

/**
 * Collects a row's entries visible at a snapshot, for Store.rawRow: every entry is kept, in
 * internal-key order, with its own copies of the bytes. Duplicates of one cell key (an
 * overwrite at the same timestamp) keep only the newest, as a reader would.
 */
export class RawRowCollector {
  readonly entries: RawEntry[] = [];
  private lastCellKey: Uint8Array | undefined;

  constructor(private readonly snapshotSeq: number) {}

  /** The raw reader never skips: every entry may matter to another replica's coordinator. */
  readonly columnEntriesSeen = 0;

  canSkipColumn(): boolean {
    return false;
  }

  add(key: Uint8Array, value: Uint8Array): void {
    if (seqOf(key) > this.snapshotSeq) return;
    // Entries of one cell key arrive newest (highest seq) first: the first is the one a reader sees.
    const cellKey = key.subarray(0, key.length - 8);
    if (this.lastCellKey !== undefined && compareBytes(cellKey, this.lastCellKey) === 0) return;
    this.lastCellKey = cellKey.slice();
    if (this.entries.length >= rawRowEntriesMax) {
      throw invalidArgument(`row has more than ${rawRowEntriesMax} stored entries`, {
        limit: 'rawRowEntriesMax',
      });
    }
    const p = parseInternalKey(key);
    const kind = key[key.length - kindFromEnd]! as Kind;
    this.entries.push({
      family: p.family,
      qualifier: p.qualifier,
      timestamp: p.timestamp,
      kind,
      value: kind === Kind.Put ? value.slice() : new Uint8Array(0),
    });
  }
}

/**
 * Resolves the entries of one row, gathered from any number of stores, into the cells a read
 * with `options` returns (snapshotSeq is ignored: every given entry is visible).
 */
export function resolveRawEntries(
  row: Uint8Array,
  entries: readonly RawEntry[],
  options: Omit<ReadOptions, 'snapshotSeq'>,
  familyLookup: FamilyOptionsLookup,
): Cell[] {
  // Sorted by cell key; of equal keys (the same entry from several replicas, or two puts at
  // one timestamp) one is kept: for puts, the greater value. No map: a sort and one pass.
  const keyed = entries.map((e) => ({
    cellKey: encodeCellKey({
      row,
      family: e.family,
      qualifier: e.qualifier,
      timestamp: e.timestamp,
      kind: e.kind,
    }),
    value: e.value,
  }));
  keyed.sort((a, b) => compareBytes(a.cellKey, b.cellKey) || compareBytes(b.value, a.value));
  const sorted: typeof keyed = [];
  for (const k of keyed) {
    const last = sorted[sorted.length - 1];
    if (last === undefined || compareBytes(last.cellKey, k.cellKey) !== 0) sorted.push(k);
  }
  const resolver = new RowResolver({ ...options, snapshotSeq: 1 }, familyLookup);
  for (const { cellKey, value } of sorted) resolver.add(internalKey(cellKey, 1), value);
  return resolver.cells();
}
