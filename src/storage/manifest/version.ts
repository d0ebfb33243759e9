/**
 * Version: an immutable picture of which SSTables make up the store, level by level.
 *
 * - Level 0 holds flushed memtables. Its files may overlap; they are kept newest first
 *   (largestSeq descending, then file number descending), which is the order a read must
 *   consult them in.
 * - Levels 1 … levelCount − 1 are each sorted by smallest key, and their files never overlap
 *   (each file's largest key is below the next file's smallest key), so a key lives in at most
 *   one file per level.
 *
 * Versions are built by applying VersionEdits (VersionBuilder); building checks both rules and a
 * broken rule is an assertion (or, when replaying a manifest, CORRUPTION naming the file).
 *
 * Reference counting: whoever reads a version — the VersionSet for its current version, a
 * snapshot, an iterator — holds a reference (`ref()` … `unref()`). While any reference is held
 * the version's files stay on disk; once the count drops back to zero the version is released
 * for good (`ref()` on it is an assertion) and its files may be deleted unless another live
 * version still lists them.
 */
import { assert } from '../../util/assert.js';
import { compareBytes } from '../../util/bytes.js';
import { TesseraError } from '../../util/errors.js';
import { checkFileMeta, levelCount, type FileMeta } from './file-meta.js';
import type { VersionEdit } from './version-edit.js';

/** Level 0's order: newest first. */
export function compareLevel0(a: FileMeta, b: FileMeta): number {
  if (a.largestSeq !== b.largestSeq) return b.largestSeq - a.largestSeq;
  return b.fileNumber - a.fileNumber;
}

/** Levels ≥ 1: by smallest key (file number only breaks ties in broken, overlapping input). */
export function compareBySmallest(a: FileMeta, b: FileMeta): number {
  return compareBytes(a.smallest, b.smallest) || a.fileNumber - b.fileNumber;
}

const noFiles: readonly FileMeta[] = Object.freeze([]);

export class Version {
  readonly levels: readonly (readonly FileMeta[])[];
  private refCount = 0;
  private released = false;
  private fileNumbers: ReadonlySet<number> | undefined;
  private onRelease: ((v: Version) => void) | undefined;

  /**
   * Trusts its input: use Version.empty() and VersionBuilder, which sort and check the levels.
   * @internal
   */
  constructor(levels: readonly (readonly FileMeta[])[]) {
    assert(levels.length === levelCount, `a version has ${levelCount} levels`);
    this.levels = Object.freeze(levels.map((files) => (files.length === 0 ? noFiles : files)));
  }

  static empty(): Version {
    return new Version(Array.from({ length: levelCount }, () => noFiles));
  }

  /** A new version: this one with `edit` applied. Broken invariants are assertions. */
  apply(edit: VersionEdit): Version {
    const b = new VersionBuilder(this);
    b.apply(edit);
    return b.build();
  }

  files(level: number): readonly FileMeta[] {
    checkLevel(level);
    return this.levels[level]!;
  }

  fileCount(level: number): number {
    return this.files(level).length;
  }

  totalFileCount(): number {
    let n = 0;
    for (const files of this.levels) n += files.length;
    return n;
  }

  /** Sum of the sizes of the level's files. */
  levelBytes(level: number): number {
    let n = 0;
    for (const f of this.files(level)) n += f.size;
    return n;
  }

  /** Every table file number in this version. */
  allFileNumbers(): ReadonlySet<number> {
    if (this.fileNumbers === undefined) {
      const s = new Set<number>();
      for (const files of this.levels) for (const f of files) s.add(f.fileNumber);
      this.fileNumbers = s;
    }
    return this.fileNumbers;
  }

  /**
   * The level's files whose key range [smallest, largest] intersects [smallestKey, largestKey]
   * (bounds inclusive; an undefined bound is unbounded), in the level's order.
   */
  overlappingFiles(
    level: number,
    smallestKey: Uint8Array | undefined,
    largestKey: Uint8Array | undefined,
  ): FileMeta[] {
    const files = this.files(level);
    const beforeRange = (f: FileMeta): boolean =>
      smallestKey !== undefined && compareBytes(f.largest, smallestKey) < 0;
    const afterRange = (f: FileMeta): boolean =>
      largestKey !== undefined && compareBytes(f.smallest, largestKey) > 0;
    if (level === 0) return files.filter((f) => !beforeRange(f) && !afterRange(f));
    // Sorted and disjoint: binary search for the first file not wholly before the range.
    let lo = 0;
    let hi = files.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (beforeRange(files[mid]!)) lo = mid + 1;
      else hi = mid;
    }
    const out: FileMeta[] = [];
    for (let i = lo; i < files.length && !afterRange(files[i]!); i++) out.push(files[i]!);
    return out;
  }

  /**
   * The files that may hold entries with keys in [key, through] (through defaults to key), in
   * the order a read consults them: level 0 newest first, then level 1, 2, … (for a single key,
   * at most one file per level ≥ 1).
   *
   * Keys are internal keys compared by bytes. To find every version of one cell visible at a
   * snapshot, pass the cell's internal key at the snapshot's sequence as `key` and at sequence 0
   * as `through`: a file whose smallest key is an older version of that cell lies after the
   * snapshot's key in byte order and is found only through the range.
   */
  filesForKey(key: Uint8Array, through: Uint8Array = key): FileMeta[] {
    const out: FileMeta[] = [];
    for (let level = 0; level < levelCount; level++) {
      for (const f of this.overlappingFiles(level, key, through)) out.push(f);
    }
    return out;
  }

  // --- Reference counting ----------------------------------------------------------------

  /** References currently held. */
  get refs(): number {
    return this.refCount;
  }

  /** True once the last reference was dropped: the version may no longer be used. */
  get isReleased(): boolean {
    return this.released;
  }

  ref(): void {
    assert(!this.released, 'ref() on a version that was already released');
    this.refCount++;
  }

  unref(): void {
    assert(this.refCount > 0, 'unref() without a matching ref()');
    this.refCount--;
    if (this.refCount === 0) {
      this.released = true;
      const hook = this.onRelease;
      this.onRelease = undefined;
      hook?.(this);
    }
  }

  /** @internal The VersionSet's hook, told when the version is released. */
  setReleaseHook(hook: (v: Version) => void): void {
    assert(this.onRelease === undefined && !this.released, 'version already owned');
    this.onRelease = hook;
  }
}

function checkLevel(level: number): void {
  assert(
    Number.isInteger(level) && level >= 0 && level < levelCount,
    `level ${level} is outside 0…${levelCount - 1}`,
  );
}

/** Raises the error a broken version invariant is reported with. */
export type ViolationHandler = (message: string) => TesseraError;

const assertionViolation: ViolationHandler = (message) =>
  new TesseraError('ASSERTION_FAILED', message);

/**
 * Applies edits to a base version and builds the result. Each `apply` checks what it can on its
 * own (a deleted file must be present at that level; an added file number must not be in the
 * version already); `build` sorts the changed levels and checks that levels ≥ 1 are disjoint.
 * Several edits may be applied before one build (how a manifest is replayed).
 */
export class VersionBuilder {
  private readonly levels: (readonly FileMeta[] | Map<number, FileMeta>)[];
  /** file number → level, for every file in the version being built. */
  private readonly levelOf = new Map<number, number>();

  constructor(
    base: Version,
    private readonly violation: ViolationHandler = assertionViolation,
  ) {
    this.levels = [...base.levels];
    base.levels.forEach((files, level) => {
      for (const f of files) this.levelOf.set(f.fileNumber, level);
    });
  }

  private fail(message: string): never {
    throw this.violation(message);
  }

  private mutableLevel(level: number): Map<number, FileMeta> {
    const files = this.levels[level]!;
    if (files instanceof Map) return files;
    const map = new Map(files.map((f) => [f.fileNumber, f] as const));
    this.levels[level] = map;
    return map;
  }

  apply(edit: VersionEdit): void {
    for (const d of edit.deletedFiles) {
      if (this.levelOf.get(d.fileNumber) !== d.level) {
        const at = this.levelOf.get(d.fileNumber);
        this.fail(
          `edit deletes file ${d.fileNumber} from level ${d.level}, but ` +
            (at === undefined ? 'no level holds it' : `it is at level ${at}`),
        );
      }
      this.mutableLevel(d.level).delete(d.fileNumber);
      this.levelOf.delete(d.fileNumber);
    }
    for (const f of edit.addedFiles) {
      checkFileMeta(f);
      const at = this.levelOf.get(f.fileNumber);
      if (at !== undefined) {
        this.fail(`edit adds file ${f.fileNumber} at level ${f.level}, but level ${at} has it`);
      }
      this.mutableLevel(f.level).set(f.fileNumber, f);
      this.levelOf.set(f.fileNumber, f.level);
    }
  }

  build(): Version {
    const levels = this.levels.map((files, level) => {
      if (!(files instanceof Map)) return files;
      const sorted = Object.freeze(
        [...files.values()].sort(level === 0 ? compareLevel0 : compareBySmallest),
      );
      if (level > 0) {
        for (let i = 1; i < sorted.length; i++) {
          const prev = sorted[i - 1]!;
          const next = sorted[i]!;
          if (compareBytes(prev.largest, next.smallest) >= 0) {
            this.fail(
              `level ${level}: files ${prev.fileNumber} and ${next.fileNumber} overlap ` +
                `(a level ≥ 1 must be sorted and disjoint)`,
            );
          }
        }
      }
      return sorted;
    });
    return new Version(levels);
  }
}
