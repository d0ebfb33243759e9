import { describe, expect, it } from 'vitest';
import { expectInvalid } from '../util/testing/expect-invalid.js';
import { Prng } from '../util/prng.js';
import { replicasFor, type ReplicationStrategy } from './replication.js';
import {
  decodeRanges,
  encodeRanges,
  groupByReplicas,
  leavingRanges,
  movedRanges,
  rangeChanges,
  rangeContains,
  rangeIntervals,
  RangeSet,
  RANGES_PER_MESSAGE_MAX,
  rangeSize,
  rangesOf,
  replicaRanges,
  type RangeChange,
  type TokenRange,
} from './token-ranges.js';
import {
  randomTokens,
  TOKEN_MAX,
  TOKEN_MIN,
  TokenRing,
  type EndpointPlacement,
} from './token-ring.js';

const all = 1n << 64n;
const simple = (replicationFactor: number): ReplicationStrategy => ({
  kind: 'simple',
  replicationFactor,
});

function placement(id: string, tokens: readonly bigint[], datacenter = 'dc1', rack = 'r1') {
  return { id, tokens, datacenter, rack };
}

function randomToken(random: Prng): bigint {
  return BigInt.asIntN(64, (BigInt(random.uint32()) << 32n) | BigInt(random.uint32()));
}

/** Mostly uniform tokens, sometimes the ends of the ring or small values near zero. */
function edgyToken(random: Prng): bigint {
  switch (random.int(6)) {
    case 0:
      return TOKEN_MIN + BigInt(random.int(3));
    case 1:
      return TOKEN_MAX - BigInt(random.int(3));
    case 2:
      return BigInt(random.int(9)) - 4n;
    default:
      return randomToken(random);
  }
}

function randomRanges(random: Prng): TokenRange[] {
  return Array.from({ length: random.int(6) }, () => {
    const start = edgyToken(random);
    return { start, end: random.chance(0.1) ? start : edgyToken(random) };
  });
}

/** Tokens worth probing for a set of ranges: the ends of the ring and each boundary ± 1. */
function probes(random: Prng, ranges: readonly TokenRange[]): bigint[] {
  const out = [TOKEN_MIN, TOKEN_MIN + 1n, TOKEN_MAX - 1n, TOKEN_MAX, 0n, -1n, 1n];
  for (const { start, end } of ranges) {
    for (const t of [start, end]) for (const d of [-1n, 0n, 1n]) out.push(t + d);
  }
  for (let i = 0; i < 50; i++) out.push(randomToken(random));
  return out.filter((t) => t >= TOKEN_MIN && t <= TOKEN_MAX);
}

function randomRing(random: Prng, nodes: number, vnodes: number, racks = 1): TokenRing {
  return TokenRing.of(
    Array.from({ length: nodes }, (_, i) =>
      placement(`n${i}`, randomTokens(random, vnodes), `dc${i % 2}`, `r${random.int(racks)}`),
    ),
  );
}

function ringTokens(ring: TokenRing): bigint[] {
  return Array.from({ length: ring.size }, (_, i) => ring.tokenAt(i));
}

describe('rangeContains and rangeSize', () => {
  it('read (start, end] with wrap-around, start === end being the whole ring', () => {
    const r = { start: 10n, end: 20n };
    expect([10n, 11n, 20n, 21n].map((t) => rangeContains(r, t))).toEqual([
      false,
      true,
      true,
      false,
    ]);
    expect(rangeSize(r)).toBe(10n);
    const wrap = { start: 20n, end: 10n };
    expect([TOKEN_MIN, TOKEN_MAX, 10n, 11n, 20n, 21n].map((t) => rangeContains(wrap, t))).toEqual([
      true,
      true,
      true,
      false,
      false,
      true,
    ]);
    expect(rangeSize(wrap)).toBe(all - 10n);
    expect(rangeSize({ start: 5n, end: 5n })).toBe(all);
    expect(rangeContains({ start: 5n, end: 5n }, 5n)).toBe(true);
    // (MAX, MIN] is the single token MIN; (MIN, MAX] everything but MIN.
    expect(rangeSize({ start: TOKEN_MAX, end: TOKEN_MIN })).toBe(1n);
    expect(rangeSize({ start: TOKEN_MIN, end: TOKEN_MAX })).toBe(all - 1n);
  });
});

describe('RangeSet', () => {
  it('contains exactly the tokens some range contains, on random ranges and edge tokens', () => {
    const random = new Prng(11);
    for (let round = 0; round < 300; round++) {
      const ranges = randomRanges(random);
      const set = new RangeSet(ranges);
      for (const t of probes(random, ranges)) {
        expect(set.contains(t), `token ${t} in ${JSON.stringify(encodeRanges(ranges))}`).toBe(
          ranges.some((r) => rangeContains(r, t)),
        );
      }
    }
  });

  it('holds sorted, disjoint, non-adjacent intervals and round-trips through toRanges', () => {
    const random = new Prng(12);
    for (let round = 0; round < 300; round++) {
      const set = new RangeSet(randomRanges(random));
      const iv = set.intervals;
      for (let i = 0; i < iv.length; i++) {
        expect(iv[i]!.lo <= iv[i]!.hi).toBe(true);
        if (i > 0) expect(iv[i - 1]!.hi + 1n < iv[i]!.lo).toBe(true);
      }
      expect(new RangeSet(set.toRanges()).intervals).toEqual(iv);
      expect(RangeSet.fromIntervals(iv).intervals).toEqual(iv);
      expect(rangeIntervals(set.toRanges())).toEqual(iv);
      let size = 0n;
      for (const { lo, hi } of iv) size += hi - lo + 1n;
      expect(set.size).toBe(size);
    }
  });

  it('sizes: all, empty, one token, disjoint ranges adding up', () => {
    expect(RangeSet.all().size).toBe(all);
    expect(RangeSet.all().intervals).toEqual([{ lo: TOKEN_MIN, hi: TOKEN_MAX }]);
    expect(new RangeSet([]).size).toBe(0n);
    expect(new RangeSet([]).isEmpty).toBe(true);
    expect(new RangeSet([]).contains(0n)).toBe(false);
    expect(new RangeSet([{ start: TOKEN_MAX, end: TOKEN_MIN }]).intervals).toEqual([
      { lo: TOKEN_MIN, hi: TOKEN_MIN },
    ]);
    // Touching ranges merge, including across the wrap.
    const set = new RangeSet([
      { start: 0n, end: 10n },
      { start: 10n, end: 20n },
      { start: TOKEN_MAX - 5n, end: TOKEN_MIN + 5n },
    ]);
    expect(set.intervals).toEqual([
      { lo: TOKEN_MIN, hi: TOKEN_MIN + 5n },
      { lo: 1n, hi: 20n },
      { lo: TOKEN_MAX - 4n, hi: TOKEN_MAX },
    ]);
    expect(set.size).toBe(6n + 20n + 5n);
  });

  it('intersects a closed interval exactly when they share a token', () => {
    const random = new Prng(13);
    for (let round = 0; round < 300; round++) {
      const ranges = randomRanges(random);
      const set = new RangeSet(ranges);
      const points = probes(random, ranges);
      for (let k = 0; k < 20; k++) {
        let lo = random.pick(points);
        let hi = random.pick(points);
        if (lo > hi) [lo, hi] = [hi, lo];
        const naive = set.intervals.some((iv) => iv.lo <= hi && lo <= iv.hi);
        expect(set.intersects(lo, hi)).toBe(naive);
      }
    }
    expectInvalid(() => RangeSet.all().intersects(2n, 1n));
  });

  it('intersect keeps the tokens in both', () => {
    const random = new Prng(14);
    for (let round = 0; round < 200; round++) {
      const a = randomRanges(random);
      const b = randomRanges(random);
      const both = new RangeSet(a).intersect(new RangeSet(b));
      for (const t of probes(random, [...a, ...b])) {
        expect(both.contains(t)).toBe(new RangeSet(a).contains(t) && new RangeSet(b).contains(t));
      }
    }
  });

  it('rejects tokens outside the signed 64-bit range and reversed intervals', () => {
    expectInvalid(() => new RangeSet([{ start: TOKEN_MIN - 1n, end: 0n }]));
    expectInvalid(() => new RangeSet([{ start: 0n, end: TOKEN_MAX + 1n }]));
    expectInvalid(() => RangeSet.fromIntervals([{ lo: 5n, hi: 4n }]));
  });
});

describe('encodeRanges / decodeRanges', () => {
  it('round-trips through JSON as decimal strings', () => {
    const ranges = [
      { start: TOKEN_MIN, end: TOKEN_MAX },
      { start: 0n, end: -1n },
      { start: 42n, end: 42n },
    ];
    const wire: unknown = JSON.parse(JSON.stringify(encodeRanges(ranges)));
    expect(wire).toEqual([
      ['-9223372036854775808', '9223372036854775807'],
      ['0', '-1'],
      ['42', '42'],
    ]);
    expect(decodeRanges(wire)).toEqual(ranges);
    expect(decodeRanges([])).toEqual([]);
  });

  it('rejects anything but an array of [start, end] canonical decimal strings in range', () => {
    const bad: unknown[] = [
      undefined,
      null,
      '1,2',
      { 0: ['1', '2'] },
      [['1']],
      [['1', '2', '3']],
      [[1, 2]],
      [[1n, 2n]],
      [['1', null]],
      [{ start: '1', end: '2' }],
      [['', '1']],
      [[' 1', '2']],
      [['+1', '2']],
      [['01', '2']],
      [['-0', '2']],
      [['1.5', '2']],
      [['1e3', '2']],
      [['0x10', '2']],
      [['9223372036854775808', '0']],
      [['0', '-9223372036854775809']],
      [['99999999999999999999', '0']],
    ];
    for (const value of bad) expectInvalid(() => decodeRanges(value));
    const tooMany = Array.from({ length: RANGES_PER_MESSAGE_MAX + 1 }, () => ['0', '1']);
    expectInvalid(() => decodeRanges(tooMany));
    expect(decodeRanges(tooMany.slice(1))).toHaveLength(RANGES_PER_MESSAGE_MAX);
  });
});

describe('replicaRanges, rangesOf, groupByReplicas', () => {
  const strategies: ReplicationStrategy[] = [
    simple(1),
    simple(3),
    { kind: 'network', datacenters: { dc0: 2, dc1: 1 } },
  ];

  it('cover the ring exactly once, with the replicas replicasFor gives', () => {
    const random = new Prng(21);
    for (let round = 0; round < 40; round++) {
      const ring = randomRing(random, random.between(1, 8), random.between(1, 6), 3);
      const strategy = random.pick(strategies);
      const list = replicaRanges(ring, strategy);
      expect(list).toHaveLength(ring.size);
      expect(list.reduce((sum, r) => sum + rangeSize(r.range), 0n)).toBe(all);
      for (const t of probes(
        random,
        ringTokens(ring).map((end) => ({ start: end, end })),
      )) {
        const holding = list.filter((r) => rangeContains(r.range, t));
        expect(holding).toHaveLength(1);
        expect(holding[0]!.replicas).toEqual(replicasFor(ring, t, strategy));
      }
    }
  });

  it('gives an empty ring no ranges and a one-token ring the whole ring', () => {
    expect(replicaRanges(TokenRing.of([]), simple(3))).toEqual([]);
    const one = TokenRing.of([placement('a', [7n])]);
    expect(replicaRanges(one, simple(3))).toEqual([
      { range: { start: 7n, end: 7n }, replicas: ['a'] },
    ]);
  });

  it('rangesOf a node holds exactly the tokens it is a replica of', () => {
    const random = new Prng(22);
    for (let round = 0; round < 30; round++) {
      const ring = randomRing(random, random.between(2, 8), random.between(1, 6), 3);
      const strategy = random.pick(strategies);
      const node = random.pick(ring.endpoints).id;
      const set = new RangeSet(rangesOf(ring, strategy, node));
      for (const t of probes(random, rangesOf(ring, strategy, node))) {
        expect(set.contains(t)).toBe(replicasFor(ring, t, strategy).includes(node));
      }
    }
  });

  it('groupByReplicas puts each range in the one group of its sorted replica set', () => {
    const random = new Prng(23);
    const ring = randomRing(random, 7, 8, 2);
    const list = replicaRanges(ring, simple(3));
    const groups = groupByReplicas(list);
    let count = 0;
    for (const [key, group] of groups) {
      expect(key).toBe(JSON.stringify(group.replicas));
      expect([...group.replicas].sort()).toEqual(group.replicas);
      count += group.ranges.length;
    }
    expect(count).toBe(list.length);
    for (const { range, replicas } of list) {
      const group = groups.get(JSON.stringify([...replicas].sort()))!;
      expect(group.ranges).toContainEqual(range);
    }
    // Replica sets differ in order only: one group.
    const same = groupByReplicas([
      { range: { start: 0n, end: 1n }, replicas: ['b', 'a'] },
      { range: { start: 1n, end: 2n }, replicas: ['a', 'b'] },
    ]);
    expect([...same.values()]).toEqual([
      {
        replicas: ['a', 'b'],
        ranges: [
          { start: 0n, end: 1n },
          { start: 1n, end: 2n },
        ],
      },
    ]);
  });
});

describe('rangeChanges', () => {
  /** Checks every change against replicasFor of both rings at many tokens. */
  function checkAgainstNaive(
    random: Prng,
    before: TokenRing,
    after: TokenRing,
    strategy: ReplicationStrategy,
  ): RangeChange[] {
    const changes = rangeChanges(before, after, strategy);
    const boundaries = [...ringTokens(before), ...ringTokens(after)].map((end) => ({
      start: end,
      end,
    }));
    for (const t of probes(random, boundaries)) {
      const was = replicasFor(before, t, strategy);
      const is = replicasFor(after, t, strategy);
      const holding = changes.filter((c) => rangeContains(c.range, t));
      const gained = is.filter((id) => !was.includes(id));
      const lost = was.filter((id) => !is.includes(id));
      if (gained.length === 0 && lost.length === 0) {
        expect(holding, `token ${t}`).toEqual([]);
        continue;
      }
      expect(holding, `token ${t}`).toHaveLength(1);
      expect(holding[0]).toMatchObject({ sources: was, replicas: is, gained, lost });
    }
    // Disjoint: the sizes add up to the size of their union.
    const total = changes.reduce((sum, c) => sum + rangeSize(c.range), 0n);
    expect(new RangeSet(changes.map((c) => c.range)).size).toBe(total);
    return changes;
  }

  it('agrees with replicasFor of both rings when a node joins or leaves', () => {
    const random = new Prng(31);
    for (let round = 0; round < 40; round++) {
      const nodes = random.between(1, 7);
      const vnodes = random.between(1, 8);
      const strategy = random.pick([
        simple(1),
        simple(2),
        simple(3),
        { kind: 'network', datacenters: { dc0: 2, dc1: 2 } } as const,
      ]);
      const placements = randomRing(random, nodes, vnodes, 3).endpoints;
      const joiner: EndpointPlacement = placement('new', randomTokens(random, vnodes), 'dc0', 'rx');
      const small = TokenRing.of(placements);
      const large = TokenRing.of([...placements, joiner]);

      const join = checkAgainstNaive(random, small, large, strategy);
      expect(join.length).toBeGreaterThan(0);
      for (const c of join) expect(c.gained).toContain('new');
      const moved = movedRanges(small, large, strategy, 'new');
      const gainedSet = new RangeSet(moved.map((m) => m.range));
      for (const t of probes(
        random,
        moved.map((m) => m.range),
      )) {
        expect(gainedSet.contains(t)).toBe(replicasFor(large, t, strategy).includes('new'));
      }
      for (const m of moved) expect(m.sources).toEqual(replicasFor(small, m.range.end, strategy));

      const leave = checkAgainstNaive(random, large, small, strategy);
      const handed = leavingRanges(large, small, strategy, 'new');
      const lostSet = new RangeSet(handed.map((h) => h.range));
      expect(lostSet.intervals).toEqual(new RangeSet(rangesOf(large, strategy, 'new')).intervals);
      for (const h of handed) {
        const was = replicasFor(large, h.range.end, strategy);
        const is = replicasFor(small, h.range.end, strategy);
        expect(h.targets).toEqual(is.filter((id) => !was.includes(id)));
      }
      expect(leave.every((c) => c.lost.includes('new'))).toBe(true);
    }
  });

  it('agrees with replicasFor for arbitrary pairs of rings', () => {
    const random = new Prng(32);
    for (let round = 0; round < 40; round++) {
      const a = randomRing(random, random.between(0, 5), random.between(1, 5), 2);
      const b = randomRing(random, random.between(0, 5), random.between(1, 5), 2);
      checkAgainstNaive(random, a, b, random.pick([simple(1), simple(3)]));
    }
  });

  it('joins pieces the other ring only cuts: one token taken from a neighbour is one range', () => {
    const before = TokenRing.of([placement('a', [0n]), placement('b', [100n])]);
    const after = TokenRing.of([
      placement('a', [0n]),
      placement('b', [100n]),
      placement('c', [50n]),
    ]);
    expect(rangeChanges(before, after, simple(1))).toEqual([
      {
        range: { start: 0n, end: 50n },
        sources: ['b'],
        replicas: ['c'],
        gained: ['c'],
        lost: ['b'],
      },
    ]);
    expect(movedRanges(before, after, simple(1), 'c')).toEqual([
      { range: { start: 0n, end: 50n }, sources: ['b'] },
    ]);
    expect(leavingRanges(after, before, simple(1), 'c')).toEqual([
      { range: { start: 0n, end: 50n }, targets: ['b'] },
    ]);
    // RF 2: c also becomes the second replica of (100, 0], a's range, which b then leaves.
    expect(rangeChanges(before, after, simple(2))).toEqual([
      {
        range: { start: 100n, end: 0n },
        sources: ['a', 'b'],
        replicas: ['a', 'c'],
        gained: ['c'],
        lost: ['b'],
      },
      {
        range: { start: 0n, end: 50n },
        sources: ['b', 'a'],
        replicas: ['c', 'b'],
        gained: ['c'],
        lost: ['a'],
      },
    ]);
  });

  it('handles empty rings and a change covering the whole ring', () => {
    const empty = TokenRing.of([]);
    const one = TokenRing.of([placement('a', [5n, 9n])]);
    expect(rangeChanges(empty, empty, simple(3))).toEqual([]);
    expect(rangeChanges(one, one, simple(3))).toEqual([]);
    expect(rangeChanges(empty, one, simple(3))).toEqual([
      { range: { start: 5n, end: 5n }, sources: [], replicas: ['a'], gained: ['a'], lost: [] },
    ]);
    expect(movedRanges(empty, one, simple(3), 'a')).toEqual([
      { range: { start: 5n, end: 5n }, sources: [] },
    ]);
    expect(leavingRanges(one, empty, simple(3), 'a')).toEqual([
      { range: { start: 5n, end: 5n }, targets: [] },
    ]);
  });
});
