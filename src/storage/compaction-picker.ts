/**
 * Chooses the next compaction: a pure function of the current file set and the options, so it
 * can be tested on its own and costs nothing to call after every flush.
 *
 * Leveled (LevelDB's scheme, the default): level 0 holds flushed memtables, which may overlap;
 * levels 1..6 each hold non-overlapping files, level n+1 targeting `levelMultiplier` times the
 * bytes of level n. Score = L0 file count / l0CompactionTrigger, or level bytes / target; the
 * highest score >= 1 is compacted into the next level. Write amplification is about
 * levelMultiplier per level a byte passes through (see docs/storage.md for the arithmetic).
 *
 * Rows are never split across files of one level >= 1 (outputs are cut at row boundaries), and
 * the next-level inputs are chosen by ROW range, not internal-key range: together these keep each
 * row in at most one file per level, which is what makes "bottommost" a property of a row range
 * and makes dropping tombstones at the bottom safe.
 *
 * Tiered (Cassandra's size-tiered): every file is a sorted run in level 0; when
 * `tierMergeWidth` runs of similar size (within 0.5x–1.5x of their bucket's mean) exist, the
 * smallest such bucket is merged into one run. Fewer rewrites, more runs per read.
 */
import { compareBytes } from '../util/bytes.js';
import { rowPrefix } from './key.js';
import type { FileMeta } from './manifest/index.js';
import type { ResolvedOptions } from './options.js';

export const levelCount = 7;
/** Most runs merged in one tiered compaction (bounds its memory and duration). */
const tierInputsMax = 32;

export interface CompactionPick {
  readonly level: number;
  readonly outputLevel: number;
  /** Files of `level` to compact. */
  readonly inputs: readonly FileMeta[];
  /** Files of `outputLevel` they overlap (empty for tiered). */
  readonly nextInputs: readonly FileMeta[];
  /** Inputs overlap nothing below nor one another: move them down without rewriting. */
  readonly trivialMove: boolean;
  /** No older data for these rows exists outside the inputs: tombstones may be dropped. */
  readonly bottommost: boolean;
  readonly reason: string;
}

export type PickerOptions = Pick<
  ResolvedOptions,
  | 'compactionStyle'
  | 'l0CompactionTrigger'
  | 'levelBaseBytes'
  | 'levelMultiplier'
  | 'tierMergeWidth'
>;

export type Levels = readonly (readonly FileMeta[])[];

export interface RowRange {
  readonly lo: Uint8Array;
  readonly hi: Uint8Array;
}

export function rowRangeOf(files: readonly FileMeta[]): RowRange {
  let lo = rowPrefix(files[0]!.smallest);
  let hi = rowPrefix(files[0]!.largest);
  for (const f of files) {
    const a = rowPrefix(f.smallest);
    const b = rowPrefix(f.largest);
    if (compareBytes(a, lo) < 0) lo = a;
    if (compareBytes(b, hi) > 0) hi = b;
  }
  return { lo, hi };
}

export function overlapsRows(f: FileMeta, r: RowRange): boolean {
  return !(
    compareBytes(rowPrefix(f.largest), r.lo) < 0 || compareBytes(rowPrefix(f.smallest), r.hi) > 0
  );
}

/** True when no two files share a row. */
function disjoint(files: readonly FileMeta[]): boolean {
  const sorted = [...files].sort((a, b) => compareBytes(a.smallest, b.smallest));
  for (let i = 1; i < sorted.length; i++) {
    if (compareBytes(rowPrefix(sorted[i]!.smallest), rowPrefix(sorted[i - 1]!.largest)) <= 0) {
      return false;
    }
  }
  return true;
}

export function levelBytes(files: readonly FileMeta[]): number {
  let n = 0;
  for (const f of files) n += f.size;
  return n;
}

export function levelTargetBytes(level: number, o: PickerOptions): number {
  return o.levelBaseBytes * o.levelMultiplier ** (level - 1);
}

function isBottommost(levels: Levels, outputLevel: number, range: RowRange): boolean {
  for (let l = outputLevel + 1; l < levels.length; l++) {
    for (const f of levels[l]!) if (overlapsRows(f, range)) return false;
  }
  return true;
}

/** Scores per level (index = level); >= 1 means the level needs compaction. */
export function levelScores(levels: Levels, o: PickerOptions): number[] {
  const scores = [levels[0]!.length / o.l0CompactionTrigger];
  for (let l = 1; l < levelCount - 1; l++) {
    scores.push(levelBytes(levels[l] ?? []) / levelTargetBytes(l, o));
  }
  return scores;
}

function pickLeveled(
  levels: Levels,
  o: PickerOptions,
  compactPointers: ReadonlyMap<number, Uint8Array>,
): CompactionPick | undefined {
  const scores = levelScores(levels, o);
  let level = -1;
  let best = 1;
  for (let l = 0; l < scores.length; l++) {
    if (scores[l]! >= best) {
      best = scores[l]!;
      level = l;
    }
  }
  if (level < 0) return undefined;
  const outputLevel = level + 1;
  let inputs: readonly FileMeta[];
  if (level === 0) {
    inputs = levels[0]!;
  } else {
    // Round robin through the level's key space, as LevelDB does, so every file gets its turn.
    const files = levels[level]!;
    const pointer = compactPointers.get(level);
    const next = pointer ? files.find((f) => compareBytes(f.largest, pointer) > 0) : undefined;
    inputs = [next ?? files[0]!];
  }
  const range = rowRangeOf(inputs);
  const nextInputs = (levels[outputLevel] ?? []).filter((f) => overlapsRows(f, range));
  const all = nextInputs.length ? rowRangeOf([...inputs, ...nextInputs]) : range;
  return {
    level,
    outputLevel,
    inputs,
    nextInputs,
    // Nothing to merge with: files move down without a rewrite. Level-0 files may move together
    // when they do not overlap one another (sequential inserts), which is what keeps a bulk
    // load in key order near a write amplification of 2 (WAL + flush).
    trivialMove: nextInputs.length === 0 && (level > 0 ? inputs.length === 1 : disjoint(inputs)),
    bottommost: isBottommost(levels, outputLevel, all),
    reason: `L${level} score ${best.toFixed(2)}`,
  };
}

function pickTiered(levels: Levels, o: PickerOptions): CompactionPick | undefined {
  const runs = [...levels[0]!].sort((a, b) => a.size - b.size || a.fileNumber - b.fileNumber);
  let i = 0;
  while (i < runs.length) {
    const bucket = [runs[i]!];
    let sum = runs[i]!.size;
    let j = i + 1;
    while (j < runs.length && runs[j]!.size <= 1.5 * (sum / bucket.length)) {
      bucket.push(runs[j]!);
      sum += runs[j]!.size;
      j++;
    }
    if (bucket.length >= o.tierMergeWidth) {
      const inputs = bucket.slice(0, tierInputsMax);
      return {
        level: 0,
        outputLevel: 0,
        inputs,
        nextInputs: [],
        trivialMove: false,
        bottommost: inputs.length === runs.length,
        reason: `${inputs.length} runs of ~${Math.round(sum / bucket.length)} bytes`,
      };
    }
    i = j;
  }
  return undefined;
}

export function pickCompaction(
  levels: Levels,
  o: PickerOptions,
  compactPointers: ReadonlyMap<number, Uint8Array> = new Map(),
): CompactionPick | undefined {
  return o.compactionStyle === 'tiered'
    ? pickTiered(levels, o)
    : pickLeveled(levels, o, compactPointers);
}

/** A full compaction of everything into the last level (leveled) or one run (tiered). */
export function pickFullCompaction(levels: Levels, o: PickerOptions): CompactionPick | undefined {
  const all = levels.flat();
  if (all.length === 0) return undefined;
  const outputLevel = o.compactionStyle === 'tiered' ? 0 : levelCount - 1;
  return {
    level: 0,
    outputLevel,
    inputs: all,
    nextInputs: [],
    trivialMove: false,
    bottommost: true,
    reason: 'full compaction',
  };
}
