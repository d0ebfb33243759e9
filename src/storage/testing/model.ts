/**
 * The reference model of the storage engine's data model, for property tests: every write is
 * kept as a plain record, and a read computes its answer straight from the definitions in
 * row-resolver.ts, by brute force. Written to be obviously right, not fast.
 */
import { compareBytes, copyBytes, equalBytes } from '../../util/bytes.js';
import type { FamilyOptionsLookup } from '../family-options.js';
import {
  encodeInternalKey,
  Kind,
  parseInternalKey,
  type CellCoordinates,
  type ParsedKey,
} from '../key.js';
import type { Cell, ReadOptions } from '../row-resolver.js';

export interface ModelWrite extends ParsedKey {
  readonly value: Uint8Array;
}

export interface ModelEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export interface ModelRow {
  readonly row: Uint8Array;
  readonly cells: Cell[];
}

export interface RowRange {
  /** First row included (default: the first). */
  readonly start?: Uint8Array;
  /** First row excluded (default: none). */
  readonly end?: Uint8Array;
}

const empty = new Uint8Array(0);

export class ModelStore {
  readonly writes: ModelWrite[] = [];

  /** A model holding exactly the given stored entries (internal keys and values). */
  static fromEntries(entries: Iterable<ModelEntry>): ModelStore {
    const m = new ModelStore();
    for (const e of entries) {
      const k = parseInternalKey(e.key);
      m.apply(k, k.seq, e.value);
    }
    return m;
  }

  /** Records a write: a put or a tombstone at `seq`. */
  apply(c: CellCoordinates, seq: number, value: Uint8Array = empty): void {
    this.writes.push({
      row: copyBytes(c.row),
      family: copyBytes(c.family),
      qualifier: copyBytes(c.qualifier),
      timestamp: c.timestamp,
      kind: c.kind,
      seq,
      value: copyBytes(value),
    });
  }

  /** Every write as an internal-key entry, sorted: what the engine would store. */
  entries(): ModelEntry[] {
    return this.writes
      .map((w) => ({ key: encodeInternalKey(w, w.seq), value: w.value }))
      .sort((a, b) => compareBytes(a.key, b.key));
  }

  /** The distinct rows written to, ascending. */
  rows(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const w of this.writes) if (!out.some((r) => equalBytes(r, w.row))) out.push(w.row);
    return out.sort(compareBytes);
  }

  /** The cells a read of `row` returns, by the definition. */
  read(row: Uint8Array, options: ReadOptions, familyLookup: FamilyOptionsLookup): Cell[] {
    const seen = this.writes.filter((w) => equalBytes(w.row, row) && w.seq <= options.snapshotSeq);
    const tombstones = seen.filter((w) => w.kind !== Kind.Put);
    const puts = seen.filter((w) => w.kind === Kind.Put);

    const sameColumn = (a: ModelWrite, b: ModelWrite): boolean =>
      equalBytes(a.family, b.family) && equalBytes(a.qualifier, b.qualifier);
    const masks = (t: ModelWrite, p: ModelWrite): boolean => {
      switch (t.kind) {
        case Kind.DeleteRow:
          return p.timestamp <= t.timestamp;
        case Kind.DeleteFamily:
          return equalBytes(t.family, p.family) && p.timestamp <= t.timestamp;
        case Kind.DeleteColumn:
          return sameColumn(t, p) && p.timestamp <= t.timestamp;
        case Kind.DeleteVersion:
          return sameColumn(t, p) && p.timestamp === t.timestamp;
        default:
          return false;
      }
    };
    const masked = (p: ModelWrite): boolean => tombstones.some((t) => masks(t, p));
    const shadowed = (p: ModelWrite): boolean =>
      puts.some((q) => sameColumn(q, p) && q.timestamp === p.timestamp && q.seq > p.seq);
    const expired = (p: ModelWrite): boolean => {
      const ttl = familyLookup(p.family).ttlMicros;
      return ttl !== undefined && p.timestamp + ttl <= options.now;
    };
    const survivors = puts.filter((p) => !masked(p) && !shadowed(p) && !expired(p));

    const families = options.families ?? [];
    const columns = options.columns ?? [];
    const selected = (p: ModelWrite): boolean =>
      (families.length === 0 && columns.length === 0) ||
      families.some((f) => equalBytes(f, p.family)) ||
      columns.some((c) => equalBytes(c.family, p.family) && equalBytes(c.qualifier, p.qualifier));

    // Group by column, columns in order.
    const byColumn: ModelWrite[][] = [];
    for (const p of survivors.filter(selected)) {
      const group = byColumn.find((g) => sameColumn(g[0]!, p));
      if (group) group.push(p);
      else byColumn.push([p]);
    }
    byColumn.sort(
      (a, b) =>
        compareBytes(a[0]!.family, b[0]!.family) || compareBytes(a[0]!.qualifier, b[0]!.qualifier),
    );

    const minTs = options.minTimestamp ?? 0;
    const maxTs = options.maxTimestamp ?? Number.POSITIVE_INFINITY;
    const readMax = options.maxVersions ?? Number.MAX_SAFE_INTEGER;
    const out: Cell[] = [];
    for (const group of byColumn) {
      const familyMax = familyLookup(group[0]!.family).maxVersions;
      const versions = group
        .sort((a, b) => b.timestamp - a.timestamp)
        .slice(0, familyMax)
        .filter((p) => minTs <= p.timestamp && p.timestamp < maxTs)
        .slice(0, readMax);
      for (const p of versions) {
        out.push({
          row: copyBytes(p.row),
          family: copyBytes(p.family),
          qualifier: copyBytes(p.qualifier),
          timestamp: p.timestamp,
          value: copyBytes(p.value),
        });
      }
    }
    return out;
  }

  /** The rows in `range`, ascending, each with the cells a read returns; rows without any are left out. */
  scanRows(
    options: ReadOptions,
    familyLookup: FamilyOptionsLookup,
    range: RowRange = {},
  ): ModelRow[] {
    const out: ModelRow[] = [];
    for (const row of this.rows()) {
      if (range.start !== undefined && compareBytes(row, range.start) < 0) continue;
      if (range.end !== undefined && compareBytes(row, range.end) >= 0) continue;
      const cells = this.read(row, options, familyLookup);
      if (cells.length > 0) out.push({ row: copyBytes(row), cells });
    }
    return out;
  }
}
