/**
 * The compaction filter: which entries a compaction may leave out of its output.
 *
 * A compaction merges its input tables and streams every entry, in internal-key order, through
 * `keep`. An entry may be dropped only when no reader can tell: for every snapshot S a reader
 * may still use (smallestSnapshot <= S, or the latest) and every `now` at or after the
 * compaction's, every read (row-resolver.ts states the contract) returns the same cells with or
 * without it. Each rule below carries its argument. "Visible to all" means seq <=
 * smallestSnapshot: every reader sees the entry.
 *
 * (a) Overwritten duplicates (LevelDB's rule). An entry whose cell key (row, family, qualifier,
 *     ts, kind) equals the previous entry's, when that previous one (higher seq) is visible to
 *     all, is dropped. Every reader sees the newer one. Two puts of one cell key are one
 *     version, and a reader takes the highest visible seq, so the older never shows; two equal
 *     tombstones mask exactly the same puts. (Whatever later happens to the newer entry, the
 *     older one would have shared its fate: same timestamp, same kind, same masks, same TTL.)
 *
 * (b) Expired puts. A put with ts + ttl <= now is dropped. Readers run at a `now` no earlier
 *     than the compaction's (clocks are monotonic), so it is expired for every one of them. An
 *     expired put neither masks nor counts as a version; the puts it shadows share its
 *     timestamp, so they are expired too.
 *
 * (c) Only at the bottommost level — the output is the oldest data for its keys; no level
 *     below holds any entry of them:
 *     (c1) Masked puts. A put masked by a tombstone visible to all is dropped, whatever its own
 *          seq: every reader sees the tombstone, and masking does not depend on write order.
 *     (c2) Versions beyond the family's maxVersions. Counting, per column, the puts visible to
 *          all that survive for a reader at smallestSnapshot (not masked by tombstones visible
 *          to all, not expired, the highest such seq at their timestamp), a put visible to all
 *          ranked after the first maxVersions is dropped. Puts with seq > smallestSnapshot are
 *          never dropped by this rule and do not count. Why no reader can miss it: a reader at
 *          S >= smallestSnapshot sees the same maxVersions newer surviving versions, except
 *          that entries with seq in (smallestSnapshot, S] may (i) add versions — hiding more,
 *          not less, (ii) overwrite one of them at the same timestamp — still one version there,
 *          (iii) mask them by DeleteRow/DeleteFamily/DeleteColumn@T — which masks every older
 *          version of the column too, including the dropped one; and a later `now` may expire
 *          them — older versions expire first. Reads count the family's limit before applying
 *          their time range (see row-resolver.ts), so time ranges cannot expose it either.
 *          The exception is (iv): a DeleteVersion that masks one of the newer versions but is
 *          not visible to all (or lies outside this compaction, in a newer level). Before the
 *          compaction the reader sees the dropped version move up into the limit; after it,
 *          one version fewer. This is HBase's documented behaviour and Tessera's: once
 *          versions beyond maxVersions are dropped by a bottommost compaction, a later
 *          DeleteVersion of a newer version does not bring them back. It needs the bottommost
 *          level because a DeleteVersion in a lower level could otherwise mask a kept version
 *          and make a dropped one visible, even for readers of old snapshots.
 *     (c3) Tombstones. A tombstone visible to all whose ts + tombstoneGraceMicros <= now is
 *          dropped. Every put it masks in this compaction comes after it in key order (a
 *          DeleteRow precedes its row, a DeleteFamily every put of its family it masks, a
 *          DeleteColumn/DeleteVersion the versions it masks) and is dropped by (c1) in the same
 *          pass; being bottommost, nothing older lies below. What it still covers is entries
 *          outside the compaction: puts in newer levels or memtables with seq higher than the
 *          tombstone's but a timestamp <= its own (a write with an old timestamp). Dropping
 *          the tombstone would resurrect those, so pass `minTimestampOutside` (see its doc):
 *          a tombstone is only dropped when its timestamp is below every timestamp outside the
 *          compaction. The grace period is Cassandra's gc_grace: a put that arrives *after*
 *          the tombstone is gone, with a timestamp it would have masked, is visible — clients
 *          must not write timestamps older than now - grace.
 *
 * (d) Nothing else is dropped. In particular a non-bottommost compaction keeps tombstones,
 *     masked puts and versions beyond the limit, since entries below (an older put the
 *     tombstone masks, a DeleteVersion that changes which versions are the newest) still
 *     depend on them.
 *
 * Another consequence, as in HBase: raising a family's maxVersions (or TTL) does not bring back
 * what compactions already dropped.
 */
import { corruption } from '../util/errors.js';
import type { FamilyOptionsLookup } from './family-options.js';
import {
  columnTrailerBytes,
  keyPartEnd,
  Kind,
  kindFromEnd,
  rowPrefixLength,
  seqOf,
  timestampOf,
  unescapeKeyPart,
} from './key.js';

export interface CompactionFilterOptions {
  /** The oldest snapshot any reader may still use (the latest sequence when none is held). */
  readonly smallestSnapshot: number;
  /** Microseconds; readers use this `now` or a later one. */
  readonly now: number;
  /** The output is the oldest data for its keys: no level below holds any of them. */
  readonly bottommost: boolean;
  /** Tombstones are kept until ts + tombstoneGraceMicros <= now. */
  readonly tombstoneGraceMicros: number;
  readonly familyLookup: FamilyOptionsLookup;
  /**
   * The smallest timestamp of any entry outside this compaction's input that may share a row
   * with it — in newer levels' tables overlapping its key range and in memtables (SSTables and
   * memtables can track their minimum timestamp). A tombstone is dropped only when its
   * timestamp is below this, since it masks such entries by timestamp even though they are
   * newer. Undefined: the caller guarantees there are none (e.g. a full compaction after a
   * flush, with writes paused). Only affects bottommost compactions.
   */
  readonly minTimestampOutside?: number;
}

/** What the filter dropped, by rule. */
export interface CompactionFilterStats {
  duplicates: number;
  expired: number;
  masked: number;
  beyondMaxVersions: number;
  tombstones: number;
}

/** "No timestamp": below every real timestamp. */
const none = -1;

/**
 * Streams a compaction's merged input: call `keep(key, value)` for every entry in internal-key
 * order (any number of rows); false means leave the entry out of the output. Keys are not kept
 * between calls, so they may be views of reused buffers.
 */
export class CompactionFilter {
  readonly stats: CompactionFilterStats = {
    duplicates: 0,
    expired: 0,
    masked: 0,
    beyondMaxVersions: 0,
    tombstones: 0,
  };

  private readonly smallest: number;
  private readonly now: number;
  private readonly bottommost: boolean;
  private readonly grace: number;
  private readonly familyLookup: FamilyOptionsLookup;
  private readonly minTsOutside: number;

  // The current column part (escaped row | family | qualifier) is colBuf[0, colLen).
  private colBuf: Uint8Array = new Uint8Array(64);
  private colLen = 0;
  private rowLen = 0;
  private famEnd = 0;

  // Masks from tombstones visible to all (seq <= smallestSnapshot), per level.
  private rowDeleteTs = none;
  private familyDeleteTs = none;
  private columnDeleteTs = none;
  private versionDeleteTs = none;

  private familyMax = Number.MAX_SAFE_INTEGER;
  private ttl: number | undefined;

  // Column: the previous entry's timestamp, kind and seq (rule a), and version counting (c2).
  private lastTs = none;
  private lastKind = -1;
  private lastSeq = Number.MAX_SAFE_INTEGER;
  private lastCountedTs = none;
  private survivors = 0;

  constructor(options: CompactionFilterOptions) {
    this.smallest = options.smallestSnapshot;
    this.now = options.now;
    this.bottommost = options.bottommost;
    this.grace = options.tombstoneGraceMicros;
    this.familyLookup = options.familyLookup;
    this.minTsOutside = options.minTimestampOutside ?? Number.POSITIVE_INFINITY;
  }

  keep(key: Uint8Array, _value: Uint8Array): boolean {
    const colLen = key.length - columnTrailerBytes;
    if (!this.sameColumn(key, colLen)) this.startColumn(key, colLen);
    const seq = seqOf(key);
    const ts = timestampOf(key);
    const kind = key[key.length - kindFromEnd]!;
    const visibleToAll = seq <= this.smallest;

    // Rule (a): the previous entry had this cell key and every reader sees it.
    const duplicate = ts === this.lastTs && kind === this.lastKind && this.lastSeq <= this.smallest;
    this.lastTs = ts;
    this.lastKind = kind;
    this.lastSeq = seq;

    if (kind === Kind.Put) {
      if (duplicate) return this.drop('duplicates');
      if (this.ttl !== undefined && ts + this.ttl <= this.now) return this.drop('expired'); // (b)
      if (!this.bottommost) return true;
      if (
        ts <= this.rowDeleteTs ||
        ts <= this.familyDeleteTs ||
        ts <= this.columnDeleteTs ||
        ts === this.versionDeleteTs
      ) {
        return this.drop('masked'); // (c1)
      }
      if (!visibleToAll || ts === this.lastCountedTs) return true;
      this.lastCountedTs = ts;
      if (++this.survivors > this.familyMax) return this.drop('beyondMaxVersions'); // (c2)
      return true;
    }

    // A tombstone: record the mask it puts on what follows, whether or not it is kept.
    if (visibleToAll) {
      switch (kind) {
        case Kind.DeleteRow:
          if (ts > this.rowDeleteTs) this.rowDeleteTs = ts;
          break;
        case Kind.DeleteFamily:
          if (ts > this.familyDeleteTs) this.familyDeleteTs = ts;
          break;
        case Kind.DeleteColumn:
          if (ts > this.columnDeleteTs) this.columnDeleteTs = ts;
          break;
        case Kind.DeleteVersion:
          this.versionDeleteTs = ts;
          break;
        default:
          throw corruption(`unknown cell kind ${kind}`);
      }
    }
    if (duplicate) return this.drop('duplicates');
    if (this.bottommost && visibleToAll && ts + this.grace <= this.now && ts < this.minTsOutside) {
      return this.drop('tombstones'); // (c3)
    }
    return true;
  }

  private drop(rule: keyof CompactionFilterStats): false {
    this.stats[rule]++;
    return false;
  }

  /** The escaped family (with terminator) whose options familyMax and ttl hold. */
  private lookedUp: Uint8Array | undefined;

  private sameFamilyAsLookedUp(key: Uint8Array, rowLen: number, famEnd: number): boolean {
    const f = this.lookedUp;
    if (f === undefined || f.length !== famEnd - rowLen) return false;
    for (let i = 0; i < f.length; i++) if (key[rowLen + i] !== f[i]) return false;
    return true;
  }

  private sameColumn(key: Uint8Array, colLen: number): boolean {
    if (colLen !== this.colLen) return false;
    const buf = this.colBuf;
    for (let i = colLen - 1; i >= 0; i--) if (key[i] !== buf[i]) return false;
    return true;
  }

  private startColumn(key: Uint8Array, colLen: number): void {
    const rowLen = rowPrefixLength(key);
    let sameRow = rowLen === this.rowLen && this.colLen > 0;
    for (let i = 0; sameRow && i < rowLen; i++) sameRow = key[i] === this.colBuf[i];
    const famEnd = keyPartEnd(key, rowLen, colLen);
    let sameFamily = sameRow && famEnd === this.famEnd;
    for (let i = rowLen; sameFamily && i < famEnd; i++) sameFamily = key[i] === this.colBuf[i];
    if (colLen > this.colBuf.length) {
      this.colBuf = new Uint8Array(Math.max(colLen, 2 * this.colBuf.length));
    }
    // A loop, not set(subarray): a view of a small on-heap key costs V8 more than the copy.
    const buf = this.colBuf;
    for (let i = 0; i < colLen; i++) buf[i] = key[i]!;
    this.colLen = colLen;
    this.rowLen = rowLen;
    this.famEnd = famEnd;

    if (!sameRow) this.rowDeleteTs = none;
    if (!sameFamily) {
      this.familyDeleteTs = none;
      if (famEnd === rowLen + 2) {
        // The empty family holds the row tombstones only.
        this.familyMax = Number.MAX_SAFE_INTEGER;
        this.ttl = undefined;
        this.lookedUp = undefined;
      } else if (!this.sameFamilyAsLookedUp(key, rowLen, famEnd)) {
        // Rows after rows: the family is usually the one looked up last; the lookup allocates.
        const o = this.familyLookup(unescapeKeyPart(key, rowLen, famEnd - 2));
        this.familyMax = o.maxVersions;
        this.ttl = o.ttlMicros;
        this.lookedUp = new Uint8Array(key.subarray(rowLen, famEnd)); // a copy, even of a Buffer
      }
    }
    this.columnDeleteTs = none;
    this.versionDeleteTs = none;
    this.lastTs = none;
    this.lastKind = -1;
    this.lastSeq = Number.MAX_SAFE_INTEGER;
    this.lastCountedTs = none;
    this.survivors = 0;
  }
}
