/**
 * The interval arithmetic repair and streaming rely on, against naive per-token checks; the
 * row-to-mutation conversion streaming applies; and read repair's missing entries.
 */
import { describe, expect, it } from 'vitest';
import { Kind, type RawEntry } from '../storage/index.js';
import { utf8 } from '../util/bytes.js';
import { isTesseraError } from '../util/errors.js';
import { Prng } from '../util/prng.js';
import { intervalOf, mutationsOf, tokenIntervals } from './range-data.js';
import { missingEntries } from './read-repair.js';
import { intersectIntervals, mergeIntervals, type Interval } from './streaming.js';

function randomIntervals(p: Prng, n: number): Interval[] {
  return Array.from({ length: n }, () => {
    const lo = BigInt(p.int(200) - 100);
    return { lo, hi: lo + BigInt(p.int(30)) };
  });
}

const inAny = (list: readonly Interval[], t: bigint) => list.some((r) => t >= r.lo && t <= r.hi);

describe('token intervals', () => {
  it('merge, intersect and look up like a per-token check', () => {
    const p = new Prng(3);
    for (let k = 0; k < 200; k++) {
      const a = randomIntervals(p, p.int(8));
      const b = randomIntervals(p, p.int(8));
      const ma = mergeIntervals(a);
      const mb = mergeIntervals(b);
      for (let i = 1; i < ma.length; i++) expect(ma[i]!.lo > ma[i - 1]!.hi + 1n).toBe(true);
      const both = intersectIntervals(ma, mb);
      const iv = tokenIntervals(ma.map((r, group) => ({ ...r, group })));
      for (let t = -110n; t <= 140n; t++) {
        expect(inAny(ma, t)).toBe(inAny(a, t));
        expect(inAny(both, t)).toBe(inAny(a, t) && inAny(b, t));
        const at = intervalOf(iv, t);
        expect(at >= 0).toBe(inAny(a, t));
        if (at >= 0) expect(iv.group[at]).toBe(at);
      }
    }
  });

  it('refuse overlapping or reversed intervals', () => {
    for (const bad of [
      [
        { lo: 1n, hi: 5n },
        { lo: 5n, hi: 9n },
      ],
      [{ lo: 3n, hi: 2n }],
    ]) {
      try {
        tokenIntervals(bad);
        expect.unreachable();
      } catch (err) {
        expect(isTesseraError(err, 'INVALID_ARGUMENT')).toBe(true);
      }
    }
  });
});

const e = (kind: Kind, ts: number, family = 'f', qualifier = 'q', value = ''): RawEntry => ({
  family: utf8(family),
  qualifier: utf8(qualifier),
  timestamp: ts,
  kind,
  value: utf8(value),
});

describe('streamed rows', () => {
  it('become mutations that write every entry with its own kind and timestamp', () => {
    const entries = [
      e(Kind.DeleteRow, 9, '', ''),
      e(Kind.DeleteFamily, 8, 'f', ''),
      e(Kind.DeleteColumn, 7),
      e(Kind.DeleteVersion, 6),
      e(Kind.Put, 5, 'f', 'q', 'v'),
    ];
    const [m, ...rest] = mutationsOf(utf8('r'), entries);
    expect(rest).toEqual([]);
    expect(m!.ops.map((o) => [o.type, o.timestamp])).toEqual([
      ['deleteRow', 9],
      ['deleteFamily', 8],
      ['deleteColumn', 7],
      ['deleteVersion', 6],
      ['put', 5],
    ]);
    const many = Array.from({ length: 2500 }, (_, i) => e(Kind.Put, i + 1, 'f', `q${i}`, 'v'));
    expect(mutationsOf(utf8('r'), many).map((x) => x.ops.length)).toEqual([1000, 1000, 500]);
  });
});

describe('read repair', () => {
  it('sends each replica exactly the entries of the union it lacks', () => {
    const put = e(Kind.Put, 5, 'f', 'q', 'v');
    const del = e(Kind.DeleteColumn, 7);
    const bigger = e(Kind.Put, 5, 'f', 'q', 'w');
    const fixes = missingEntries([
      { id: 'a', entries: [put] },
      { id: 'b', entries: [put, del] },
      { id: 'c', entries: [bigger, del] },
    ]);
    expect(fixes.map((f) => [f.id, f.missing.length])).toEqual([
      ['a', 2],
      ['b', 1],
      ['c', 1],
    ]);
    expect(fixes.find((f) => f.id === 'b')!.missing).toEqual([bigger]);
    expect(
      missingEntries([
        { id: 'a', entries: [put] },
        { id: 'b', entries: [put] },
      ]),
    ).toEqual([]);
  });
});
