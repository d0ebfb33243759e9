/**
 * What the manifest records about one SSTable, and the names of the files in a store's
 * directory. Byte layout of everything persisted here: docs/formats/manifest.md.
 *
 * Keys are opaque internal keys (src/storage/key.ts) compared with plain byte order
 * (compareBytes). File numbers come from one counter shared by every kind of file (tables,
 * WALs, manifests), so a number names at most one file of the store.
 */
import { assert } from '../../util/assert.js';
import { compareBytes } from '../../util/bytes.js';

/** Levels 0 … levelCount − 1. Level 0 files may overlap; deeper levels are sorted and disjoint. */
export const levelCount = 7;

/** File numbers are integers in [1, 2^53); 0 is never a file (a logNumber of 0 means "none"). */
export const fileNumberMax = Number.MAX_SAFE_INTEGER;

export interface FileMeta {
  readonly fileNumber: number;
  readonly level: number;
  /** Bytes in the file. */
  readonly size: number;
  /** Entries (internal keys) in the file. */
  readonly entries: number;
  /** The first internal key in the file. */
  readonly smallest: Uint8Array;
  /** The last internal key in the file (≥ smallest). */
  readonly largest: Uint8Array;
  /** The lowest sequence number of any entry in the file. */
  readonly smallestSeq: number;
  /** The highest sequence number of any entry in the file (≥ smallestSeq). */
  readonly largestSeq: number;
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/**
 * Why `meta` is not a well-formed FileMeta, or undefined when it is. (Structure only: whether
 * it fits into a version is the version's business.)
 */
export function fileMetaProblem(meta: FileMeta): string | undefined {
  const n = meta.fileNumber;
  if (!(Number.isSafeInteger(n) && n >= 1)) return `file number ${n} is not an integer ≥ 1`;
  if (!(Number.isInteger(meta.level) && meta.level >= 0 && meta.level < levelCount)) {
    return `file ${n}: level ${meta.level} is outside 0…${levelCount - 1}`;
  }
  if (!isCount(meta.size)) return `file ${n}: bad size ${meta.size}`;
  if (!isCount(meta.entries)) return `file ${n}: bad entry count ${meta.entries}`;
  if (!isCount(meta.smallestSeq) || !isCount(meta.largestSeq)) {
    return `file ${n}: bad sequence range ${meta.smallestSeq}…${meta.largestSeq}`;
  }
  if (meta.smallestSeq > meta.largestSeq) {
    return `file ${n}: smallestSeq ${meta.smallestSeq} > largestSeq ${meta.largestSeq}`;
  }
  if (compareBytes(meta.smallest, meta.largest) > 0) return `file ${n}: smallest key > largest`;
  return undefined;
}

export function checkFileMeta(meta: FileMeta): void {
  const problem = fileMetaProblem(meta);
  assert(problem === undefined, problem);
}

// ---------------------------------------------------------------------------------------------
// File names

export const currentFileName = 'CURRENT';

const numberDigits = 6;

function padded(n: number): string {
  assert(Number.isSafeInteger(n) && n >= 0, `bad file number ${n}`);
  return String(n).padStart(numberDigits, '0');
}

/** `000042.sst` */
export function tableFileName(n: number): string {
  return `${padded(n)}.sst`;
}

/** `000042.wal` */
export function walFileName(n: number): string {
  return `${padded(n)}.wal`;
}

/** `MANIFEST-000042` */
export function manifestFileName(n: number): string {
  return `MANIFEST-${padded(n)}`;
}

/**
 * `000042.dbtmp`: the temporary file CURRENT is written to before it is renamed into place; the
 * number is that of the manifest it will name.
 */
export function tempFileName(n: number): string {
  return `${padded(n)}.dbtmp`;
}

export type FileKind = 'table' | 'wal' | 'manifest' | 'current' | 'temp';

export interface ParsedFileName {
  readonly kind: FileKind;
  /** The file number (0 for CURRENT, which has none). */
  readonly number: number;
}

const namePattern = /^(?:(\d+)\.(sst|wal|dbtmp)|MANIFEST-(\d+))$/;
const kindBySuffix = { sst: 'table', wal: 'wal', dbtmp: 'temp' } as const;

/**
 * The kind and number of a store file name, or undefined for a name the store did not write.
 * Only canonical names parse (`1.sst` or `0000042.sst` do not), so what parses is exactly what
 * the name functions above produce.
 */
export function parseFileName(name: string): ParsedFileName | undefined {
  if (name === currentFileName) return { kind: 'current', number: 0 };
  const m = namePattern.exec(name);
  if (m === null) return undefined;
  const digits = m[1] ?? m[3]!;
  const number = Number(digits);
  if (!Number.isSafeInteger(number)) return undefined;
  const kind: FileKind = m[2] === undefined ? 'manifest' : kindBySuffix[m[2] as 'sst'];
  if (digits !== padded(number)) return undefined;
  return { kind, number };
}

/** The name of a parsed store file: the inverse of parseFileName. */
export function fileNameOf(p: ParsedFileName): string {
  switch (p.kind) {
    case 'table':
      return tableFileName(p.number);
    case 'wal':
      return walFileName(p.number);
    case 'manifest':
      return manifestFileName(p.number);
    case 'temp':
      return tempFileName(p.number);
    case 'current':
      return currentFileName;
  }
}

/** `dir/name` without doubled slashes. */
export function joinPath(dir: string, name: string): string {
  if (dir === '' || dir === '.') return name;
  return dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`;
}
