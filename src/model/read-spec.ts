/**
 * What a read asks for — GetSpec (one row) and ScanSpec (a key range) — and its translation
 * into the storage engine's read options.
 *
 * Defaults follow HBase: a read returns the newest version of each column (maxVersions 1) of
 * every declared family. A time range is [min, max). A scan's range is [startRow, stopRow)
 * intersected with the rows that start with `prefix`.
 */
import type { ColumnRef, GetOptions, ScanOptions } from '../storage/index.js';
import { compareBytes, utf8 } from '../util/bytes.js';
import { invalidArgument } from '../util/errors.js';
import { bytesKey, toBytes, type Bytes } from './bytes.js';
import { filterColumns, type Filter } from './filters.js';
import { findFamily, type TableSchema } from './schema.js';

export interface ColumnSpec {
  readonly family: string;
  readonly qualifier: Bytes;
}

export interface TimeRange {
  /** Inclusive lower bound (default 0). */
  readonly min?: number;
  /** Exclusive upper bound (default: none). */
  readonly max?: number;
}

export interface GetSpec {
  /** Whole families to read; with `columns`, the union is read. Default: every family. */
  readonly families?: readonly string[];
  readonly columns?: readonly ColumnSpec[];
  /** Versions per column, newest first (default 1). */
  readonly maxVersions?: number;
  readonly timeRange?: TimeRange;
  readonly filter?: Filter;
}

export interface ScanSpec extends GetSpec {
  /** First row, inclusive. */
  readonly startRow?: Bytes;
  /** Row to stop before, exclusive. */
  readonly stopRow?: Bytes;
  /** Only rows starting with these bytes. */
  readonly prefix?: Bytes;
  /** Most rows returned (after filtering). */
  readonly limit?: number;
  /** Rows fetched from storage per step (default: the store's). */
  readonly batchSize?: number;
}

/** A read translated for the storage engine. */
export interface ReadPlan {
  readonly options: GetOptions;
  readonly filter: Filter | undefined;
  /**
   * When the filter needs columns the read did not select, they are read too, and this says
   * which cells the caller asked for (the others are dropped after filtering).
   */
  readonly selected: ((family: Uint8Array, qualifier: Uint8Array) => boolean) | undefined;
}

export interface ScanPlan extends ReadPlan {
  readonly options: ScanOptions & { readonly batchRows?: number };
  /** True when the range holds no row at all. */
  readonly empty: boolean;
  readonly limit: number | undefined;
}

/**
 * The first key after every key that starts with `prefix`: the prefix with its last non-0xff
 * byte incremented and the 0xff bytes after it dropped. Undefined when there is none (the
 * prefix is empty or all 0xff): the range then runs to the end.
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  let n = prefix.length;
  while (n > 0 && prefix[n - 1] === 0xff) n--;
  if (n === 0) return undefined;
  // A copy, never a view: a Buffer's slice() shares memory, and this one is edited.
  const out = new Uint8Array(prefix.subarray(0, n));
  out[n - 1] = prefix[n - 1]! + 1;
  return out;
}

/** The row range [start, stop) of a scan; undefined bounds are open. */
export function scanRange(spec: Pick<ScanSpec, 'startRow' | 'stopRow' | 'prefix'>): {
  start: Uint8Array | undefined;
  stop: Uint8Array | undefined;
  empty: boolean;
} {
  let start = spec.startRow === undefined ? undefined : toBytes(spec.startRow);
  let stop = spec.stopRow === undefined ? undefined : toBytes(spec.stopRow);
  if (start !== undefined && start.length === 0) start = undefined;
  if (stop !== undefined && stop.length === 0) stop = undefined; // HBase: empty stop = the end
  if (spec.prefix !== undefined) {
    const p = toBytes(spec.prefix);
    if (p.length > 0) {
      if (start === undefined || compareBytes(p, start) > 0) start = p;
      const end = prefixEnd(p);
      if (end !== undefined && (stop === undefined || compareBytes(end, stop) < 0)) stop = end;
    }
  }
  const empty = start !== undefined && stop !== undefined && compareBytes(start, stop) >= 0;
  return { start, stop, empty };
}

function checkCount(what: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) {
    throw invalidArgument(`${what} must be an integer >= 1, got ${v}`);
  }
}

function checkTimestamp(what: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) {
    throw invalidArgument(`${what} must be an integer >= 0, got ${v}`);
  }
}

function checkFamily(schema: TableSchema, family: string): Uint8Array {
  if (findFamily(schema, family) === undefined) {
    throw invalidArgument(`table '${schema.name}' has no column family '${family}'`, { family });
  }
  return utf8(family);
}

/**
 * The plan of a get that names nothing (the newest version of every column), shared by every
 * such read: the common case builds no arrays or options objects. Frozen, as readers share it.
 */
export const wholeRowPlan: ReadPlan = Object.freeze({
  options: Object.freeze({ maxVersions: 1 }),
  filter: undefined,
  selected: undefined,
});

/** wholeRowPlan's options with value views (see GetOptions.valueViews), equally shared. */
export const wholeRowViewOptions: GetOptions = Object.freeze({ maxVersions: 1, valueViews: true });

/** Translates a GetSpec; INVALID_ARGUMENT for unknown families or bad counts and bounds. */
export function readPlan(spec: GetSpec, schema: TableSchema): ReadPlan {
  if (
    spec.families === undefined &&
    spec.columns === undefined &&
    spec.timeRange === undefined &&
    spec.filter === undefined &&
    (spec.maxVersions === undefined || spec.maxVersions === 1)
  ) {
    return wholeRowPlan;
  }
  checkCount('maxVersions', spec.maxVersions);
  const tr = spec.timeRange ?? {};
  checkTimestamp('timeRange.min', tr.min);
  checkTimestamp('timeRange.max', tr.max);
  if (tr.min !== undefined && tr.max !== undefined && tr.min > tr.max) {
    throw invalidArgument(`timeRange.min ${tr.min} is above timeRange.max ${tr.max}`);
  }
  const families = (spec.families ?? []).map((f) => checkFamily(schema, f));
  const columns: ColumnRef[] = (spec.columns ?? []).map((c) => ({
    family: checkFamily(schema, c.family),
    qualifier: toBytes(c.qualifier),
  }));
  let selected: ReadPlan['selected'];
  // Naming no family or column reads every declared family: the whole row, as a schema never
  // loses a family and writes reach declared families only. The engine then reads without a
  // selection to build and check for each read.
  if ((families.length > 0 || columns.length > 0) && spec.filter !== undefined) {
    const wanted = new Set([
      ...families.map((f) => bytesKey(f)),
      ...columns.map((c) => `${bytesKey(c.family)}\u0000${bytesKey(c.qualifier)}`),
    ]);
    const isSelected = (f: Uint8Array, q: Uint8Array): boolean =>
      wanted.has(bytesKey(f)) || wanted.has(`${bytesKey(f)}\u0000${bytesKey(q)}`);
    for (const c of filterColumns(spec.filter)) {
      const ref = { family: checkFamily(schema, c.family), qualifier: c.qualifier };
      if (!isSelected(ref.family, ref.qualifier)) {
        columns.push(ref);
        selected = isSelected;
      }
    }
  }
  const options: GetOptions = {
    maxVersions: spec.maxVersions ?? 1,
    ...(tr.min === undefined ? {} : { minTimestamp: tr.min }),
    ...(tr.max === undefined ? {} : { maxTimestamp: tr.max }),
    ...(families.length === 0 ? {} : { families }),
    ...(columns.length === 0 ? {} : { columns }),
  };
  return { options, filter: spec.filter, selected };
}

/** Translates a ScanSpec. The limit is left to the caller when a filter may drop rows. */
export function scanPlan(spec: ScanSpec, schema: TableSchema): ScanPlan {
  checkCount('limit', spec.limit);
  checkCount('batchSize', spec.batchSize);
  const base = readPlan(spec, schema);
  const { start, stop, empty } = scanRange(spec);
  const storageLimit = base.filter === undefined ? spec.limit : undefined;
  const options = {
    ...base.options,
    ...(start === undefined ? {} : { startRow: start }),
    ...(stop === undefined ? {} : { stopRow: stop }),
    ...(storageLimit === undefined ? {} : { limit: storageLimit }),
    ...(spec.batchSize === undefined ? {} : { batchRows: spec.batchSize }),
  };
  return { ...base, options, empty, limit: spec.limit };
}
