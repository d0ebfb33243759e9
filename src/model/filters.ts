/**
 * Server-side filters: a readonly discriminated union, so filters are plain data that travel
 * on the wire, and `applyFilter(row, cells)` that evaluates one on a row's cells.
 *
 * A filter maps a row's cells to the cells it keeps; a row left with no cells is dropped.
 * Cell filters (columnPrefix, qualifier, timestampRange) keep some cells; row filters
 * (rowPrefix, valueCompare) keep all of a row's cells or none. `and` applies its filters in
 * turn (each sees what the previous kept); `or` keeps every cell some filter keeps. Values
 * compare as unsigned bytes, lexicographically (HBase's BinaryComparator).
 */
import { compareBytes, equalBytes, utf8 } from '../util/bytes.js';
import { invalidArgument } from '../util/errors.js';
import type { Cell } from '../storage/index.js';

export type CompareOp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';

export type Filter =
  /** Cells whose qualifier starts with `prefix`. */
  | { readonly kind: 'columnPrefix'; readonly prefix: Uint8Array }
  /** Cells whose qualifier equals `qualifier` (in `family` when given). */
  | { readonly kind: 'qualifier'; readonly qualifier: Uint8Array; readonly family?: string }
  /**
   * Rows whose newest version of family:qualifier compares `op` to `value` (the cell's value
   * on the left). A row without the column passes unless `filterIfMissing`.
   */
  | {
      readonly kind: 'valueCompare';
      readonly op: CompareOp;
      readonly family: string;
      readonly qualifier: Uint8Array;
      readonly value: Uint8Array;
      readonly filterIfMissing?: boolean;
    }
  /** Rows whose key starts with `prefix`. */
  | { readonly kind: 'rowPrefix'; readonly prefix: Uint8Array }
  /** Cells with min <= timestamp < max (either bound optional). */
  | { readonly kind: 'timestampRange'; readonly min?: number; readonly max?: number }
  | { readonly kind: 'and'; readonly filters: readonly Filter[] }
  | { readonly kind: 'or'; readonly filters: readonly Filter[] };

const ops: Record<CompareOp, (c: number) => boolean> = {
  eq: (c) => c === 0,
  ne: (c) => c !== 0,
  lt: (c) => c < 0,
  le: (c) => c <= 0,
  gt: (c) => c > 0,
  ge: (c) => c >= 0,
};

/** True when `actual op expected` holds, comparing bytes lexicographically. */
export function compareWith(op: CompareOp, actual: Uint8Array, expected: Uint8Array): boolean {
  const f = ops[op];
  if (f === undefined) throw invalidArgument(`unknown compare op '${String(op)}'`);
  return f(compareBytes(actual, expected));
}

function startsWith(b: Uint8Array, prefix: Uint8Array): boolean {
  if (b.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (b[i] !== prefix[i]) return false;
  return true;
}

/** The cells of `cells` (a row, in read order) that `filter` keeps. */
export function applyFilter(
  filter: Filter,
  row: Uint8Array,
  cells: readonly Cell[],
): readonly Cell[] {
  switch (filter.kind) {
    case 'columnPrefix':
      return cells.filter((c) => startsWith(c.qualifier, filter.prefix));
    case 'qualifier': {
      const fam = filter.family === undefined ? undefined : utf8(filter.family);
      return cells.filter(
        (c) =>
          equalBytes(c.qualifier, filter.qualifier) &&
          (fam === undefined || equalBytes(c.family, fam)),
      );
    }
    case 'valueCompare': {
      const fam = utf8(filter.family);
      // Cells come newest first within a column: the first match is the newest version.
      const cell = cells.find(
        (c) => equalBytes(c.family, fam) && equalBytes(c.qualifier, filter.qualifier),
      );
      if (cell === undefined) return filter.filterIfMissing === true ? [] : cells;
      return compareWith(filter.op, cell.value, filter.value) ? cells : [];
    }
    case 'rowPrefix':
      return startsWith(row, filter.prefix) ? cells : [];
    case 'timestampRange': {
      const min = filter.min ?? 0;
      const max = filter.max ?? Infinity;
      return cells.filter((c) => c.timestamp >= min && c.timestamp < max);
    }
    case 'and': {
      let kept = cells;
      for (const f of filter.filters) {
        if (kept.length === 0) break;
        kept = applyFilter(f, row, kept);
      }
      return kept;
    }
    case 'or': {
      if (filter.filters.length === 0) return cells;
      const kept = new Set<Cell>();
      for (const f of filter.filters) for (const c of applyFilter(f, row, cells)) kept.add(c);
      return cells.filter((c) => kept.has(c));
    }
    default:
      throw invalidArgument(`unknown filter kind '${String((filter as { kind: unknown }).kind)}'`);
  }
}

/** The columns a filter reads (valueCompare), so a read can fetch them even when unselected. */
export function filterColumns(filter: Filter): { family: string; qualifier: Uint8Array }[] {
  switch (filter.kind) {
    case 'valueCompare':
      return [{ family: filter.family, qualifier: filter.qualifier }];
    case 'and':
    case 'or':
      return filter.filters.flatMap(filterColumns);
    default:
      return [];
  }
}
