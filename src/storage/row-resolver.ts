/**
 * The row resolver: which stored entries of one row a read returns.
 *
 * A row's entries (puts and tombstones from the memtables and every SSTable, merged) arrive in
 * internal-key order: row asc, family asc, qualifier asc, timestamp DESC, kind asc (DeleteRow,
 * DeleteFamily, DeleteColumn, DeleteVersion, Put), seq DESC. The resolver turns them into the
 * cells a reader sees. The contract — the same one the compaction filter (compaction-filter.ts)
 * must preserve and the reference model (testing/model.ts) states by brute force:
 *
 * - Snapshots. A reader at snapshot S ignores every entry with seq > S.
 * - Deletes are timestamp-based, as in HBase and Cassandra. Among the entries the reader sees:
 *   DeleteRow@T masks every put of the row with ts <= T; DeleteFamily@T masks the puts of its
 *   family with ts <= T; DeleteColumn@T masks the puts of its column with ts <= T;
 *   DeleteVersion@T masks the puts of its column with ts == T exactly. Masking does not depend
 *   on which was written first: a put written after a delete with an older-or-equal timestamp
 *   is still masked. Deletes win ties.
 * - Overwrites. Among puts with the same (row, family, qualifier, ts), the one with the highest
 *   visible seq is the version; the others are shadowed.
 * - TTL. A put of a family with ttlMicros is expired, and invisible, once ts + ttlMicros <= now.
 * - Versions. The surviving versions of a column are its puts that are neither masked, expired
 *   nor shadowed. Of these a read sees only the newest family.maxVersions (the family's
 *   retention: what a bottommost compaction keeps). Then the read's own filters apply: the time
 *   range [minTimestamp, maxTimestamp) skips versions outside it, and the read's maxVersions
 *   returns at most that many of the versions in range, newest first. Versions outside the
 *   range do not count towards the read's maxVersions; they do count towards the family's
 *   maxVersions, so that what a read returns does not depend on whether a compaction has
 *   already dropped the versions beyond the family's limit. (HBase applies the time range
 *   first, so there a time-ranged read can see versions beyond the limit until a major
 *   compaction removes them; Tessera does not.)
 * - Selection. A read may name families and/or columns; it then returns only the columns of
 *   the named families plus the named columns. A family tombstone only ever applies to its own
 *   family; row tombstones apply to every selected column.
 *
 * One forward pass suffices, keeping O(1) state per level. Row tombstones use the empty family,
 * so they come first in the row; the newest visible one (the first seen) masks the most. A
 * family tombstone DF@T is stored under the empty qualifier of its family, among that column's
 * versions by timestamp: the only puts that precede it are empty-qualifier puts with ts > T,
 * which it does not mask, and everything it masks comes after it. A DeleteVersion@T sorts
 * right before the puts at T (kinds order DeleteVersion before Put at equal timestamps), so
 * the timestamp of the last visible DeleteVersion of the column is all the DeleteVersion state
 * needed: a later put either has that timestamp (masked) or an older one (not). The first
 * visible put at a timestamp is the version; later ones at the same timestamp are shadowed.
 */
import { copyBytes } from '../util/bytes.js';
import { corruption, invalidArgument } from '../util/errors.js';
import type { FamilyOptionsLookup } from './family-options.js';
import {
  columnTrailerBytes,
  keyPartEnd,
  Kind,
  kindFromEnd,
  maxTimestamp,
  rowPrefixLength,
  seqOf,
  timestampOf,
  unescapeKeyPart,
} from './key.js';

/**
 * A value view may keep at most this much memory alive; a value inside a larger buffer (a
 * memtable arena chunk) is copied instead.
 */
const valuePinBytesMax = 64 * 1024;

/**
 * A cell a read returns. Row, family and qualifier are the resolver's own copies. The value is
 * the stored bytes themselves when they live in a small immutable buffer (an SSTable block):
 * copying every value of a scan doubled its cost. Stored bytes are never modified, so the view
 * stays right; holding it keeps its block (at most valuePinBytesMax) in memory.
 */
export interface Cell {
  readonly row: Uint8Array;
  readonly family: Uint8Array;
  readonly qualifier: Uint8Array;
  readonly timestamp: number;
  readonly value: Uint8Array;
}

export interface ColumnRef {
  readonly family: Uint8Array;
  readonly qualifier: Uint8Array;
}

export interface ReadOptions {
  /** Entries with seq > snapshotSeq are ignored. */
  readonly snapshotSeq: number;
  /** Microseconds; puts with ts + ttl <= now are expired. */
  readonly now: number;
  /** At most this many versions per column (>= 1). Default: all the family keeps. */
  readonly maxVersions?: number;
  /** Only versions with minTimestamp <= ts (default 0). */
  readonly minTimestamp?: number;
  /** Only versions with ts < maxTimestamp (exclusive; default: no upper bound). */
  readonly maxTimestamp?: number;
  /**
   * Selection: whole families and single columns. A column is read when its family is in
   * `families` or it is in `columns`. When both are absent or empty, every column is read.
   */
  readonly families?: readonly Uint8Array[];
  readonly columns?: readonly ColumnRef[];
  /**
   * Values are views of the stored bytes wherever they live, never copies, even inside a large
   * buffer (a memtable arena chunk). Stored bytes are never modified, so the views stay right,
   * but each keeps its whole buffer alive: only for a caller that drops the cells at once
   * (the RPC server encodes a get's reply and lets it go).
   */
  readonly valueViews?: boolean;
}

/** What a read selects of one family: all of it, or some qualifiers. */
interface FamilySelection {
  all: boolean;
  readonly qualifiers: Set<string>;
}

/** A Map key for bytes: one UTF-16 code unit per byte. */
function bytesMapKey(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

function checkCount(name: string, v: number | undefined): number {
  if (v === undefined) return Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(v) || v < 1) {
    throw invalidArgument(`${name} must be an integer >= 1, got ${v}`);
  }
  return v;
}

// Trailer of an internal key: tsInv (8) | kind (1) | seqInv (8).
/** "No timestamp": below every real timestamp, so `ts <= none` and `ts === none` are false. */
const none = -1;

/**
 * Resolves one row at a time: `add` its entries in order, take `cells()`, `reset()` for the
 * next row. Entries may belong to columns or families the read does not select; they are
 * skipped (their tombstones included, except row tombstones, which always apply).
 */
export class RowResolver {
  private readonly snapshotSeq: number;
  private readonly now: number;
  private readonly readMax: number;
  private readonly minTs: number;
  private readonly maxTs: number;
  private readonly selection: Map<string, FamilySelection> | undefined;
  private readonly familyLookup: FamilyOptionsLookup;
  /** Values inside a buffer larger than this are copied (Infinity: never). */
  private readonly pinBytesMax: number;

  private out: Cell[] = [];

  // Row level. rowLen 0: no entry seen yet.
  private rowLen = 0;
  private row: Uint8Array | undefined;
  private rowDeleteTs = none;

  // Family level.
  private famEnd = 0;
  private family: Uint8Array = new Uint8Array(0);
  private familyUsed = false; // some column of the family is selected
  private familySel: FamilySelection | undefined;
  private familyMax = Number.MAX_SAFE_INTEGER;
  private ttl: number | undefined;
  private familyDeleteTs = none;

  // Column level: the current column part (escaped row | family | qualifier) is colBuf[0, colLen).
  private colBuf: Uint8Array = new Uint8Array(64);
  private colLen = 0;
  private qualifier: Uint8Array | undefined;
  private columnUsed = false;
  private columnDone = false;
  private columnDeleteTs = none;
  private versionDeleteTs = none;
  private lastPutTs = none;
  private survivors = 0;
  private returned = 0;
  /** Entries of the current column seen so far (the one just added included). */
  private columnEntries = 0;

  constructor(options: ReadOptions, familyLookup: FamilyOptionsLookup) {
    this.snapshotSeq = options.snapshotSeq;
    this.now = options.now;
    this.readMax = checkCount('read maxVersions', options.maxVersions);
    this.minTs = options.minTimestamp ?? 0;
    this.maxTs = options.maxTimestamp ?? maxTimestamp + 1;
    this.familyLookup = familyLookup;
    this.pinBytesMax = options.valueViews === true ? Infinity : valuePinBytesMax;
    const families = options.families ?? [];
    const columns = options.columns ?? [];
    if (families.length === 0 && columns.length === 0) {
      this.selection = undefined;
    } else {
      const sel = new Map<string, FamilySelection>();
      const get = (f: Uint8Array): FamilySelection => {
        const k = bytesMapKey(f);
        let s = sel.get(k);
        if (s === undefined) {
          s = { all: false, qualifiers: new Set() };
          sel.set(k, s);
        }
        return s;
      };
      for (const f of families) get(f).all = true;
      for (const c of columns) get(c.family).qualifiers.add(bytesMapKey(c.qualifier));
      this.selection = sel;
    }
  }

  /** Starts over for the next row. Arrays returned by cells() stay the caller's. */
  reset(): void {
    this.out = [];
    this.rowLen = 0;
    this.row = undefined;
    this.rowDeleteTs = none;
    this.famEnd = 0;
    this.colLen = 0;
  }

  /**
   * True when the rest of `key`'s column (the one last added) cannot change the result, so a
   * reader may seek past it (columnEndKey) instead of stepping through it — a hot row can hold
   * thousands of versions of one column. That holds once a column of a non-empty qualifier is done (its
   * versions all returned, expired, masked or beyond the range) or not selected: its entries
   * are its own puts and deletes only, since row and family tombstones live in the empty family
   * and the empty qualifier, whose columns are never skipped.
   */
  canSkipColumn(key: Uint8Array): boolean {
    if (!(this.columnDone || !this.columnUsed)) return false;
    // An entry the snapshot hides is passed over before it can start its column: the column
    // at hand may then still be the previous one.
    if (!this.sameColumn(key, key.length - columnTrailerBytes)) return false;
    const n = this.colLen;
    const b = this.colBuf;
    // An empty qualifier leaves two terminators (00 01 00 01) at the end of the column part.
    return !(n >= 4 && b[n - 4] === 0 && b[n - 3] === 1 && b[n - 2] === 0 && b[n - 1] === 1);
  }

  /** Entries of the current column added so far. */
  get columnEntriesSeen(): number {
    return this.columnEntries;
  }

  /** The cells of the row so far, in order: family, qualifier, timestamp descending. */
  cells(): Cell[] {
    return this.out;
  }

  /**
   * Takes the next entry of the row (internal key and value), in internal-key order. Neither
   * array is kept: returned cells hold copies.
   */
  add(key: Uint8Array, value: Uint8Array): void {
    if (seqOf(key) > this.snapshotSeq) return;
    const colLen = key.length - columnTrailerBytes;
    if (!this.sameColumn(key, colLen)) this.startColumn(key, colLen);
    this.columnEntries++;
    const kind = key[key.length - kindFromEnd]!;
    if (kind === Kind.Put) {
      if (this.columnUsed && !this.columnDone) this.put(key, value);
      return;
    }
    const ts = timestampOf(key);
    switch (kind) {
      case Kind.DeleteRow:
        if (ts > this.rowDeleteTs) this.rowDeleteTs = ts;
        break;
      case Kind.DeleteFamily:
        if (this.familyUsed && ts > this.familyDeleteTs) this.familyDeleteTs = ts;
        break;
      case Kind.DeleteColumn:
        if (this.columnUsed && ts > this.columnDeleteTs) this.columnDeleteTs = ts;
        break;
      case Kind.DeleteVersion:
        if (this.columnUsed) this.versionDeleteTs = ts;
        break;
      default:
        throw corruption(`unknown cell kind ${kind}`);
    }
  }

  private put(key: Uint8Array, value: Uint8Array): void {
    const ts = timestampOf(key);
    if (ts === this.lastPutTs) return; // shadowed by a newer visible put of this version
    this.lastPutTs = ts;
    if (
      ts <= this.rowDeleteTs ||
      ts <= this.familyDeleteTs ||
      ts <= this.columnDeleteTs ||
      ts === this.versionDeleteTs
    ) {
      return; // masked
    }
    if (this.ttl !== undefined && ts + this.ttl <= this.now) {
      this.columnDone = true; // expired, and so is every older version
      return;
    }
    if (++this.survivors >= this.familyMax) this.columnDone = true; // the family keeps no more
    if (ts >= this.maxTs) return;
    if (ts < this.minTs) {
      this.columnDone = true; // older versions are all below the range
      return;
    }
    this.qualifier ??= unescapeKeyPart(key, this.famEnd, this.colLen - 2);
    this.row ??= unescapeKeyPart(key, 0, this.rowLen - 2);
    this.out.push({
      row: this.row,
      family: this.family,
      qualifier: this.qualifier,
      timestamp: ts,
      // Only a bounded pin looks at the buffer: reading `.buffer` of a small on-heap array
      // makes V8 move its bytes off the heap.
      value:
        this.pinBytesMax !== Infinity && value.buffer.byteLength > this.pinBytesMax
          ? copyBytes(value)
          : value,
    });
    if (++this.returned >= this.readMax) this.columnDone = true;
  }

  private sameColumn(key: Uint8Array, colLen: number): boolean {
    if (colLen !== this.colLen) return false;
    const buf = this.colBuf;
    // Compare from the end: neighbouring columns share the row and usually the family.
    for (let i = colLen - 1; i >= 0; i--) if (key[i] !== buf[i]) return false;
    return true;
  }

  private startColumn(key: Uint8Array, colLen: number): void {
    if (this.rowLen === 0) {
      this.rowLen = rowPrefixLength(key);
      this.famEnd = 0;
    }
    const rowLen = this.rowLen;
    const famEnd = keyPartEnd(key, rowLen, colLen);
    let sameFamily = famEnd === this.famEnd && this.colLen > 0;
    for (let i = rowLen; sameFamily && i < famEnd; i++) sameFamily = key[i] === this.colBuf[i];
    if (colLen > this.colBuf.length)
      this.colBuf = new Uint8Array(Math.max(colLen, 2 * this.colBuf.length));
    // A loop, not set(subarray): a view of a small on-heap key costs V8 more than the copy.
    const buf = this.colBuf;
    for (let i = 0; i < colLen; i++) buf[i] = key[i]!;
    this.colLen = colLen;
    if (!sameFamily) this.startFamily(key, famEnd);

    this.qualifier = undefined;
    this.columnDone = false;
    this.columnDeleteTs = none;
    this.versionDeleteTs = none;
    this.lastPutTs = none;
    this.survivors = 0;
    this.returned = 0;
    this.columnEntries = 0;
    const sel = this.familySel;
    if (!this.familyUsed) {
      this.columnUsed = false;
    } else if (sel === undefined || sel.all) {
      this.columnUsed = true;
    } else {
      this.qualifier = unescapeKeyPart(key, famEnd, colLen - 2);
      this.columnUsed = sel.qualifiers.has(bytesMapKey(this.qualifier));
    }
  }

  private startFamily(key: Uint8Array, famEnd: number): void {
    this.famEnd = famEnd;
    this.familyDeleteTs = none;
    this.familySel = undefined;
    if (famEnd === this.rowLen + 2) {
      // The empty family: the row tombstones' place. It has no columns of its own.
      this.family = new Uint8Array(0);
      this.familyUsed = false;
      return;
    }
    this.family = unescapeKeyPart(key, this.rowLen, famEnd - 2);
    if (this.selection !== undefined) {
      this.familySel = this.selection.get(bytesMapKey(this.family));
      if (this.familySel === undefined) {
        this.familyUsed = false;
        return;
      }
    }
    this.familyUsed = true;
    const o = this.familyLookup(this.family);
    this.familyMax = o.maxVersions;
    this.ttl = o.ttlMicros;
  }
}
