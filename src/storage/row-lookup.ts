/**
 * Where a row can be: the cheap checks a point read makes before it merges anything. A row
 * start key is the row's escaped bytes plus terminator (key.ts), so "does this key belong to
 * the row" is a prefix test and "is the row in this file's range" two byte comparisons.
 */
import { rowPrefix } from './key.js';
import type { FileMeta } from './manifest/index.js';

export function hasPrefix(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length <= prefix.length) return false;
  for (let i = prefix.length - 1; i >= 0; i--) if (key[i] !== prefix[i]) return false;
  return true;
}

export function compareBytesRaw(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** A file's row range as row start keys, computed once per file (files are immutable). */
const fileRows = new WeakMap<FileMeta, { lo: Uint8Array; hi: Uint8Array }>();

export function rowsOf(f: FileMeta): { lo: Uint8Array; hi: Uint8Array } {
  let r = fileRows.get(f);
  if (!r) {
    r = { lo: rowPrefix(f.smallest), hi: rowPrefix(f.largest) };
    fileRows.set(f, r);
  }
  return r;
}

export function fileHoldsRow(f: FileMeta, rowKey: Uint8Array): boolean {
  const r = rowsOf(f);
  return compareBytesRaw(r.lo, rowKey) <= 0 && compareBytesRaw(r.hi, rowKey) >= 0;
}

/** The file of a level >= 1 (sorted, disjoint) whose row range holds the row, by binary search. */
export function findFileForRow(
  files: readonly FileMeta[],
  rowKey: Uint8Array,
): FileMeta | undefined {
  let lo = 0;
  let hi = files.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareBytesRaw(rowsOf(files[mid]!).hi, rowKey) < 0) lo = mid + 1;
    else hi = mid;
  }
  const f = files[lo];
  return f && compareBytesRaw(rowsOf(f).lo, rowKey) <= 0 ? f : undefined;
}
