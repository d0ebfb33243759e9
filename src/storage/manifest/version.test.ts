import { describe, expect, it } from 'vitest';
import { compareBytes } from '../../util/bytes.js';
import { corruption } from '../../util/errors.js';
import { Prng } from '../../util/prng.js';
import { levelCount, type FileMeta } from './file-meta.js';
import { key, keyNumber, randomValidEdit, type GeneratorState } from './testdata/gen.js';
import type { VersionEdit } from './version-edit.js';
import { Version, VersionBuilder } from './version.js';

function file(
  fileNumber: number,
  level: number,
  lo: number,
  hi: number,
  seqs: [number, number] = [1, 1],
): FileMeta {
  return {
    fileNumber,
    level,
    size: 100 * fileNumber,
    entries: 1,
    smallest: key(lo),
    largest: key(hi),
    smallestSeq: seqs[0],
    largestSeq: seqs[1],
  };
}

function edit(change: Partial<VersionEdit>): VersionEdit {
  return { deletedFiles: [], addedFiles: [], ...change };
}

const assertion = expect.objectContaining({ code: 'ASSERTION_FAILED' });

/** Why `v` breaks a version invariant, or undefined. */
function invariantProblem(v: Version): string | undefined {
  if (v.levels.length !== levelCount) return 'level count';
  const l0 = v.levels[0]!;
  for (let i = 1; i < l0.length; i++) {
    const a = l0[i - 1]!;
    const b = l0[i]!;
    const newerFirst =
      a.largestSeq > b.largestSeq || (a.largestSeq === b.largestSeq && a.fileNumber > b.fileNumber);
    if (!newerFirst) return `L0 order at ${i}`;
  }
  for (let level = 1; level < levelCount; level++) {
    const files = v.levels[level]!;
    for (let i = 1; i < files.length; i++) {
      if (compareBytes(files[i - 1]!.largest, files[i]!.smallest) >= 0) return `L${level} at ${i}`;
    }
  }
  for (let level = 0; level < levelCount; level++) {
    for (const f of v.levels[level]!) if (f.level !== level) return `file ${f.fileNumber} level`;
  }
  return undefined;
}

/** A random version grown by random valid edits, and the model of its files. */
function grow(seed: number, edits: number): { version: Version; model: Map<number, FileMeta> } {
  const prng = new Prng(seed);
  let next = 1;
  const state: GeneratorState = { version: Version.empty(), lastSequence: 0 };
  const model = new Map<number, FileMeta>();
  for (let i = 0; i < edits; i++) {
    const e = randomValidEdit(prng, state, () => next++);
    for (const d of e.deletedFiles) {
      expect(model.get(d.fileNumber)?.level).toBe(d.level);
      model.delete(d.fileNumber);
    }
    for (const f of e.addedFiles) model.set(f.fileNumber, f);
    state.version = state.version.apply(e);
  }
  return { version: state.version, model };
}

describe('Version.apply', () => {
  it('keeps every invariant and matches a model over random edit sequences', () => {
    for (let seed = 0; seed < 40; seed++) {
      const prng = new Prng(seed);
      let next = 1;
      const state: GeneratorState = { version: Version.empty(), lastSequence: 0 };
      const model = new Map<number, FileMeta>();
      for (let i = 0; i < 150; i++) {
        const before = state.version;
        const e = randomValidEdit(prng, state, () => next++);
        for (const d of e.deletedFiles) model.delete(d.fileNumber);
        for (const f of e.addedFiles) model.set(f.fileNumber, f);
        state.version = before.apply(e);
        expect(invariantProblem(state.version)).toBeUndefined();
        const got = state.version.levels.flat();
        expect(got.length).toBe(model.size);
        expect(got.every((f) => model.get(f.fileNumber) === f)).toBe(true);
        expect([...state.version.allFileNumbers()].sort((a, b) => a - b)).toEqual(
          [...model.keys()].sort((a, b) => a - b),
        );
      }
    }
  });

  it('orders level 0 newest first: largest seq, then file number', () => {
    const v = Version.empty().apply(
      edit({
        addedFiles: [
          file(1, 0, 0, 50, [1, 10]),
          file(2, 0, 10, 20, [11, 30]),
          file(4, 0, 5, 90, [5, 20]),
          file(3, 0, 0, 5, [12, 20]),
        ],
      }),
    );
    expect(v.files(0).map((f) => f.fileNumber)).toEqual([2, 4, 3, 1]);
  });

  it('sorts levels >= 1 by smallest key whatever the edit order', () => {
    const v = Version.empty().apply(
      edit({ addedFiles: [file(1, 2, 50, 60), file(2, 2, 0, 10), file(3, 2, 20, 30)] }),
    );
    expect(v.files(2).map((f) => f.fileNumber)).toEqual([2, 3, 1]);
  });

  it('moves a file between levels in one edit (deletes before adds)', () => {
    const v1 = Version.empty().apply(edit({ addedFiles: [file(5, 1, 0, 10)] }));
    const v2 = v1.apply(
      edit({ deletedFiles: [{ level: 1, fileNumber: 5 }], addedFiles: [file(5, 2, 0, 10)] }),
    );
    expect(v2.fileCount(1)).toBe(0);
    expect(v2.files(2).map((f) => f.fileNumber)).toEqual([5]);
  });

  it('asserts on broken invariants and leaves the base version untouched', () => {
    const base = Version.empty().apply(
      edit({ addedFiles: [file(1, 1, 0, 10), file(2, 1, 20, 30), file(3, 0, 0, 100)] }),
    );
    const snapshot = base.levels.map((files) => [...files]);
    const bad: [string, VersionEdit][] = [
      ['delete a missing file', edit({ deletedFiles: [{ level: 1, fileNumber: 9 }] })],
      ['delete from the wrong level', edit({ deletedFiles: [{ level: 2, fileNumber: 1 }] })],
      ['delete twice', edit({ deletedFiles: [1, 1].map((n) => ({ level: 1, fileNumber: n })) })],
      ['add an existing number', edit({ addedFiles: [file(3, 4, 0, 1)] })],
      ['add a number twice', edit({ addedFiles: [file(7, 4, 0, 1), file(7, 5, 0, 1)] })],
      ['overlap at level 1', edit({ addedFiles: [file(4, 1, 10, 15)] })],
      ['touch at level 1', edit({ addedFiles: [file(4, 1, 30, 40)] })],
      ['contain at level 1', edit({ addedFiles: [file(4, 1, 5, 6)] })],
      ['overlap among new files', edit({ addedFiles: [file(4, 3, 0, 10), file(5, 3, 10, 12)] })],
    ];
    for (const [what, e] of bad) {
      expect(() => base.apply(e), what).toThrow(assertion);
    }
    expect(base.levels.map((files) => [...files])).toEqual(snapshot);
  });

  it('overlapping files at level 0 are fine', () => {
    const v = Version.empty().apply(
      edit({ addedFiles: [file(1, 0, 0, 100), file(2, 0, 0, 100), file(3, 0, 50, 50)] }),
    );
    expect(v.fileCount(0)).toBe(3);
  });

  it('reports violations through the builder handler (how recovery makes them CORRUPTION)', () => {
    const b = new VersionBuilder(Version.empty(), (m) => corruption(`replay: ${m}`));
    b.apply(edit({ addedFiles: [file(1, 1, 0, 10), file(2, 1, 5, 20)] }));
    expect(() => b.build()).toThrow(expect.objectContaining({ code: 'CORRUPTION' }));
    const b2 = new VersionBuilder(Version.empty(), (m) => corruption(m));
    expect(() => b2.apply(edit({ deletedFiles: [{ level: 0, fileNumber: 1 }] }))).toThrow(
      expect.objectContaining({ code: 'CORRUPTION' }),
    );
  });

  it('shares unchanged levels with its base', () => {
    const v1 = Version.empty().apply(edit({ addedFiles: [file(1, 1, 0, 10), file(2, 3, 0, 10)] }));
    const v2 = v1.apply(edit({ addedFiles: [file(3, 0, 0, 10)] }));
    expect(v2.levels[1]).toBe(v1.levels[1]);
    expect(v2.levels[3]).toBe(v1.levels[3]);
  });
});

describe('Version queries', () => {
  it('overlappingFiles matches a brute-force scan, with and without bounds', () => {
    for (let seed = 100; seed < 130; seed++) {
      const { version } = grow(seed, 120);
      const prng = new Prng(seed);
      for (let q = 0; q < 200; q++) {
        const level = prng.int(levelCount);
        const a = prng.int(100_001);
        const b = Math.min(100_000, a + prng.int(20_000));
        const lo = prng.chance(0.1) ? undefined : key(a);
        const hi = prng.chance(0.1) ? undefined : key(b);
        const expected = version
          .files(level)
          .filter(
            (f) =>
              (lo === undefined || compareBytes(f.largest, lo) >= 0) &&
              (hi === undefined || compareBytes(f.smallest, hi) <= 0),
          );
        expect(version.overlappingFiles(level, lo, hi)).toEqual(expected);
      }
    }
  });

  it('filesForKey lists level 0 newest first, then at most one file per deeper level', () => {
    for (let seed = 200; seed < 220; seed++) {
      const { version } = grow(seed, 150);
      const prng = new Prng(seed);
      for (let q = 0; q < 200; q++) {
        const k = prng.int(100_001);
        const found = version.filesForKey(key(k));
        const expected: FileMeta[] = [];
        for (let level = 0; level < levelCount; level++) {
          const hits = version
            .files(level)
            .filter((f) => keyNumber(f.smallest) <= k && k <= keyNumber(f.largest));
          if (level > 0) expect(hits.length).toBeLessThanOrEqual(1);
          expected.push(...hits);
        }
        expect(found).toEqual(expected);
        // A range reaches every file overlapping it, in the same order.
        const through = key(Math.min(100_000, k + 500));
        const ranged = version.filesForKey(key(k), through);
        expect(ranged.length).toBeGreaterThanOrEqual(found.length);
      }
    }
  });

  it('levelBytes and counts', () => {
    const v = Version.empty().apply(
      edit({ addedFiles: [file(1, 1, 0, 10), file(2, 1, 20, 30), file(3, 0, 0, 100)] }),
    );
    expect(v.levelBytes(1)).toBe(300);
    expect(v.levelBytes(0)).toBe(300);
    expect(v.levelBytes(6)).toBe(0);
    expect(v.fileCount(1)).toBe(2);
    expect(v.totalFileCount()).toBe(3);
    expect(() => v.levelBytes(7)).toThrow(assertion);
  });
});

describe('Version reference counting', () => {
  it('releases once the last reference is dropped, and tells its owner', () => {
    const v = Version.empty();
    const released: Version[] = [];
    v.setReleaseHook((x) => released.push(x));
    v.ref();
    v.ref();
    expect(v.refs).toBe(2);
    v.unref();
    expect(v.isReleased).toBe(false);
    expect(released).toEqual([]);
    v.unref();
    expect(v.isReleased).toBe(true);
    expect(released).toEqual([v]);
    expect(() => v.ref()).toThrow(assertion);
    expect(() => v.unref()).toThrow(assertion);
  });

  it('unref without ref is an assertion', () => {
    expect(() => Version.empty().unref()).toThrow(assertion);
  });
});
