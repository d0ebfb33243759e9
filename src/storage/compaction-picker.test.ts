import { describe, expect, it } from 'vitest';
import { utf8 } from '../util/bytes.js';
import {
  pickCompaction,
  pickFullCompaction,
  type Levels,
  type PickerOptions,
} from './compaction-picker.js';
import { encodeInternalKey, Kind } from './key.js';
import type { FileMeta } from './manifest/index.js';

const leveled: PickerOptions = {
  compactionStyle: 'leveled',
  l0CompactionTrigger: 4,
  levelBaseBytes: 1000,
  levelMultiplier: 10,
  tierMergeWidth: 4,
};

let next = 1;
function file(level: number, lo: string, hi: string, size = 100): FileMeta {
  const key = (row: string, seq: number) =>
    encodeInternalKey(
      { row: utf8(row), family: utf8('f'), qualifier: utf8('q'), timestamp: 1, kind: Kind.Put },
      seq,
    );
  return {
    fileNumber: next++,
    level,
    size,
    entries: 10,
    smallest: key(lo, 9),
    largest: key(hi, 1),
    smallestSeq: 1,
    largestSeq: 9,
  };
}

function levels(...ls: FileMeta[][]): Levels {
  return Array.from({ length: 7 }, (_, i) => ls[i] ?? []);
}

describe('compaction picker (leveled)', () => {
  it('does nothing below every trigger', () => {
    expect(
      pickCompaction(levels([file(0, 'a', 'z')], [file(1, 'a', 'z', 900)]), leveled),
    ).toBeUndefined();
  });

  it('compacts all of L0 with the L1 files that share rows, bottommost when nothing lies below', () => {
    const l0 = [file(0, 'a', 'm'), file(0, 'c', 'k'), file(0, 'b', 'd'), file(0, 'e', 'f')];
    const l1 = [file(1, 'a', 'b'), file(1, 'n', 'p')];
    const pick = pickCompaction(levels(l0, l1), leveled)!;
    expect(pick.level).toBe(0);
    expect(pick.outputLevel).toBe(1);
    expect(pick.inputs).toHaveLength(4);
    expect(pick.nextInputs.map((f) => f.fileNumber)).toEqual([l1[0]!.fileNumber]);
    expect(pick.trivialMove).toBe(false);
    expect(pick.bottommost).toBe(true);
    const deeper = pickCompaction(levels(l0, l1, [file(2, 'h', 'i')]), leveled)!;
    expect(deeper.bottommost).toBe(false);
  });

  it('moves disjoint L0 files (a sequential load) down without a rewrite', () => {
    const l0 = [file(0, 'a', 'b'), file(0, 'c', 'd'), file(0, 'e', 'f'), file(0, 'g', 'h')];
    const pick = pickCompaction(levels(l0, [file(1, 'x', 'y')]), leveled)!;
    expect(pick.trivialMove).toBe(true);
    expect(pick.nextInputs).toEqual([]);
  });

  it('picks the fullest level by score and walks it round robin from the compact pointer', () => {
    const l1 = [file(1, 'a', 'b', 800), file(1, 'c', 'd', 800)];
    const l2 = [file(2, 'c', 'c', 10)];
    const first = pickCompaction(levels([], l1, l2), leveled)!;
    expect(first.level).toBe(1);
    expect(first.inputs[0]).toBe(l1[0]);
    expect(first.trivialMove).toBe(true);
    const pointer = new Map([[1, l1[0]!.largest]]);
    const second = pickCompaction(levels([], l1, l2), leveled, pointer)!;
    expect(second.inputs[0]).toBe(l1[1]);
    expect(second.nextInputs).toEqual(l2);
    expect(second.trivialMove).toBe(false);
  });

  it('a full compaction takes every file into the last level', () => {
    const pick = pickFullCompaction(levels([file(0, 'a', 'b')], [file(1, 'c', 'd')]), leveled)!;
    expect(pick.inputs).toHaveLength(2);
    expect(pick.outputLevel).toBe(6);
    expect(pick.bottommost).toBe(true);
  });
});

describe('compaction picker (tiered)', () => {
  const tiered: PickerOptions = { ...leveled, compactionStyle: 'tiered' };

  it('merges runs of similar size once tierMergeWidth of them exist, smallest bucket first', () => {
    const small = [100, 110, 120].map((s) => file(0, 'a', 'z', s));
    expect(pickCompaction(levels(small), tiered)).toBeUndefined();
    const big = [5000, 5100, 5200, 5300].map((s) => file(0, 'a', 'z', s));
    const pick = pickCompaction(levels([...small, file(0, 'a', 'z', 130), ...big]), tiered)!;
    expect(pick.inputs.map((f) => f.size)).toEqual([100, 110, 120, 130]);
    expect(pick.outputLevel).toBe(0);
    expect(pick.bottommost).toBe(false);
    const all = pickCompaction(levels(big), tiered)!;
    expect(all.bottommost).toBe(true);
  });
});
