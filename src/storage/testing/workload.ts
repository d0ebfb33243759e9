/**
 * Random workloads for the storage engine's property tests: a handful of rows, families and
 * qualifiers (with zero bytes, so key escaping is exercised), few distinct timestamps (so
 * equal timestamps are common), every delete kind, per-family maxVersions and TTLs.
 */
import { fromUtf8, toHex, utf8 } from '../../util/bytes.js';
import type { Prng } from '../../util/prng.js';
import {
  defaultFamilyOptions,
  type FamilyOptions,
  type FamilyOptionsLookup,
} from '../family-options.js';
import { Kind, maxTimestamp } from '../key.js';
import type { Cell, ColumnRef, ReadOptions } from '../row-resolver.js';
import { ModelStore } from './model.js';

const allRows = [utf8('a'), Uint8Array.of(0x61, 0), utf8('b'), Uint8Array.of(0, 0xff)];
const allFamilies = [utf8('f'), Uint8Array.of(0x66, 0), utf8('g')];
const allQualifiers = [
  new Uint8Array(0),
  utf8('q'),
  Uint8Array.of(0x71, 0),
  Uint8Array.of(0),
  utf8('r'),
];
const empty = new Uint8Array(0);

export interface Workload {
  readonly model: ModelStore;
  readonly rows: readonly Uint8Array[];
  readonly families: readonly Uint8Array[];
  readonly qualifiers: readonly Uint8Array[];
  readonly familyOptions: ReadonlyMap<string, FamilyOptions>;
  readonly lookup: FamilyOptionsLookup;
  /** Writes have seqs 1..maxSeq. */
  readonly maxSeq: number;
}

export function familyName(f: Uint8Array): string {
  return toHex(f);
}

export function randomTimestamp(p: Prng): number {
  return p.chance(0.04) ? maxTimestamp : p.int(8);
}

/** `ops` random writes, seqs 1..ops. */
export function randomWorkload(p: Prng, ops: number): Workload {
  // Subset sizes skewed small, so that columns often get many versions.
  const some = <T>(all: readonly T[]): T[] => all.slice(0, 1 + p.int(1 + p.int(all.length)));
  const rows = some(allRows);
  const families = some(allFamilies);
  const qualifiers = some(allQualifiers);
  const familyOptions = new Map<string, FamilyOptions>();
  for (const f of families) {
    familyOptions.set(familyName(f), {
      maxVersions: p.chance(0.5) ? Number.MAX_SAFE_INTEGER : p.between(1, 3),
      ttlMicros: p.chance(0.35) ? p.between(1, 8) : undefined,
    });
  }
  const lookup: FamilyOptionsLookup = (f) =>
    familyOptions.get(familyName(f)) ?? defaultFamilyOptions;
  const model = new ModelStore();
  const tombstonePercent = p.between(5, 50);
  for (let seq = 1; seq <= ops; seq++) {
    const row = p.pick(rows);
    const family = p.pick(families);
    const qualifier = p.pick(qualifiers);
    const timestamp = randomTimestamp(p);
    if (p.int(100) >= tombstonePercent) {
      model.apply({ row, family, qualifier, timestamp, kind: Kind.Put }, seq, utf8(`v${seq}`));
      continue;
    }
    const r = p.int(10);
    if (r < 1) {
      model.apply({ row, family: empty, qualifier: empty, timestamp, kind: Kind.DeleteRow }, seq);
    } else if (r < 3) {
      model.apply({ row, family, qualifier: empty, timestamp, kind: Kind.DeleteFamily }, seq);
    } else if (r < 6) {
      model.apply({ row, family, qualifier, timestamp, kind: Kind.DeleteColumn }, seq);
    } else {
      model.apply({ row, family, qualifier, timestamp, kind: Kind.DeleteVersion }, seq);
    }
  }
  return { model, rows, families, qualifiers, familyOptions, lookup, maxSeq: ops };
}

/** Random read options: sometimes a version limit, a time range, a family/column selection. */
export function randomReadOptions(
  p: Prng,
  w: Workload,
  snapshotSeq: number,
  now: number,
): ReadOptions {
  const o: {
    snapshotSeq: number;
    now: number;
    maxVersions?: number;
    minTimestamp?: number;
    maxTimestamp?: number;
    families?: Uint8Array[];
    columns?: ColumnRef[];
  } = { snapshotSeq, now };
  if (p.chance(0.3)) o.maxVersions = p.between(1, 3);
  if (p.chance(0.25)) o.minTimestamp = p.int(8);
  if (p.chance(0.25)) o.maxTimestamp = p.int(9);
  if (p.chance(0.3)) {
    o.families = w.families.filter(() => p.chance(0.4));
    o.columns = [];
    const n = p.int(3);
    for (let i = 0; i < n; i++)
      o.columns.push({ family: p.pick(w.families), qualifier: p.pick(w.qualifiers) });
  }
  return o;
}

/** Cells as readable strings, for comparisons with useful diffs. */
export function formatCells(cells: readonly Cell[]): string[] {
  return cells.map(
    (c) =>
      `${toHex(c.row)}/${toHex(c.family)}:${toHex(c.qualifier)}@${c.timestamp}=${fromUtf8(c.value)}`,
  );
}
