import { describe, expect, it } from 'vitest';
import { expectInvalid } from '../util/testing/expect-invalid.js';
import type { Random } from '../env/types.js';
import { Prng } from '../util/prng.js';
import {
  randomTokens,
  TOKEN_MAX,
  TOKEN_MIN,
  TokenRing,
  VNODES_DEFAULT,
  VNODES_MAX,
  type EndpointPlacement,
} from './token-ring.js';

const quarter = 1n << 62n;

function placement(id: string, tokens: readonly bigint[], rack = 'r1'): EndpointPlacement {
  return { id, tokens, datacenter: 'dc1', rack };
}

function randomRing(random: Prng, nodes: number, vnodes: number): TokenRing {
  return TokenRing.of(
    Array.from({ length: nodes }, (_, i) => placement(`n${i}`, randomTokens(random, vnodes))),
  );
}

/** A Random whose uint32() replays `words` (the rest comes from a Prng). */
function scriptedRandom(words: readonly number[]): Random {
  const prng = new Prng(1);
  let next = 0;
  return {
    uint32: () => words[next++ % words.length]!,
    float: () => prng.float(),
    int: (n) => prng.int(n),
    between: (lo, hi) => prng.between(lo, hi),
    chance: (p) => prng.chance(p),
    bytes: (n) => prng.bytes(n),
    fork: () => prng.fork(),
  };
}

/** The owner index by a linear scan: the reference for the binary search. */
function linearOwnerIndex(ring: TokenRing, token: bigint): number {
  for (let i = 0; i < ring.size; i++) if (ring.tokenAt(i) >= token) return i;
  return 0;
}

describe('randomTokens', () => {
  it('builds each token from two uint32 draws, high half first, as a signed 64-bit value', () => {
    expect(randomTokens(scriptedRandom([0x8000_0000, 0]), 1)).toEqual([TOKEN_MIN]);
    expect(randomTokens(scriptedRandom([0x7fff_ffff, 0xffff_ffff]), 1)).toEqual([TOKEN_MAX]);
    expect(randomTokens(scriptedRandom([0xffff_ffff, 0xffff_ffff]), 1)).toEqual([-1n]);
    expect(randomTokens(scriptedRandom([0, 5, 1, 0]), 2)).toEqual([5n, 1n << 32n]);
  });

  it('returns the requested number of distinct tokens, ascending, skipping repeated draws', () => {
    expect(randomTokens(scriptedRandom([0, 7, 0, 7, 0, 3]), 2)).toEqual([3n, 7n]);
    const tokens = randomTokens(new Prng(4), 500);
    expect(tokens).toHaveLength(500);
    expect(new Set(tokens).size).toBe(500);
    for (let i = 1; i < tokens.length; i++) expect(tokens[i - 1]! < tokens[i]!).toBe(true);
  });

  it('spreads over the whole signed range and is a function of the seed', () => {
    const tokens = randomTokens(new Prng(8), 1000);
    // Each quarter of the ring gets about 250 of 1000 uniform tokens.
    const quarters = [0, 0, 0, 0];
    for (const t of tokens) quarters[Number((t - TOKEN_MIN) / quarter)]!++;
    for (const count of quarters) expect(Math.abs(count - 250)).toBeLessThan(60);
    expect(randomTokens(new Prng(8), 1000)).toEqual(tokens);
    expect(randomTokens(new Prng(9), 1000)).not.toEqual(tokens);
  });

  it('rejects counts outside [1, VNODES_MAX] and a Random that repeats itself forever', () => {
    expectInvalid(() => randomTokens(new Prng(1), 0));
    expectInvalid(() => randomTokens(new Prng(1), 1.5));
    expectInvalid(() => randomTokens(new Prng(1), VNODES_MAX + 1));
    expect(randomTokens(new Prng(1), VNODES_MAX)).toHaveLength(VNODES_MAX);
    expect(() => randomTokens(scriptedRandom([1, 2]), 2)).toThrow(/repeating/);
  });
});

describe('TokenRing.of', () => {
  it('sorts endpoints by id and tokens ascending, pairing each token with its endpoint', () => {
    const ring = TokenRing.of([
      placement('b', [30n, -10n]),
      placement('a', [20n]),
      placement('c', [TOKEN_MIN, TOKEN_MAX]),
    ]);
    expect(ring.endpoints.map((e) => e.id)).toEqual(['a', 'b', 'c']);
    expect(ring.endpoints[1]!.tokens).toEqual([-10n, 30n]);
    expect(ring.size).toBe(5);
    const tokens = Array.from({ length: ring.size }, (_, i) => ring.tokenAt(i));
    expect(tokens).toEqual([TOKEN_MIN, -10n, 20n, 30n, TOKEN_MAX]);
    const holders = Array.from({ length: ring.size }, (_, i) => ring.endpointAt(i).id);
    expect(holders).toEqual(['c', 'b', 'a', 'b', 'c']);
    expect(ring.endpointIndexAt(1)).toBe(1);
  });

  it('gives a token claimed twice to the endpoint with the smaller id, whatever the order', () => {
    const claims = [placement('zed', [5n, 9n]), placement('amy', [9n]), placement('kim', [5n, 1n])];
    for (const order of [claims, [...claims].reverse()]) {
      const ring = TokenRing.of(order);
      expect(ring.size).toBe(3);
      expect(ring.endpointAt(ring.ownerIndex(9n)).id).toBe('amy');
      expect(ring.endpointAt(ring.ownerIndex(5n)).id).toBe('kim');
      expect(ring.endpoints.map((e) => e.tokens)).toEqual([[9n], [1n, 5n], []]);
    }
    // A token an endpoint lists twice counts once.
    expect(TokenRing.of([placement('a', [4n, 4n])]).size).toBe(1);
  });

  it('rejects duplicate ids, empty ids, out-of-range tokens and too many tokens', () => {
    expectInvalid(() => TokenRing.of([placement('a', [1n]), placement('a', [2n])]));
    expectInvalid(() => TokenRing.of([placement('', [1n])]));
    expectInvalid(() => TokenRing.of([placement('a', [TOKEN_MAX + 1n])]));
    expectInvalid(() => TokenRing.of([placement('a', [TOKEN_MIN - 1n])]));
    const many = Array.from({ length: VNODES_MAX + 1 }, (_, i) => BigInt(i));
    expectInvalid(() => TokenRing.of([placement('a', many)]));
    expect(TokenRing.of([placement('a', many.slice(1))]).size).toBe(VNODES_MAX);
  });

  it('rejects token indexes outside the ring', () => {
    const ring = TokenRing.of([placement('a', [1n, 2n])]);
    expectInvalid(() => ring.tokenAt(2));
    expectInvalid(() => ring.endpointAt(-1));
    expectInvalid(() => ring.rangeWidth(0.5));
  });

  it('builds an empty ring that owns nothing and has no owner index', () => {
    const ring = TokenRing.of([placement('a', [])]);
    expect(ring.size).toBe(0);
    expectInvalid(() => ring.ownerIndex(0n));
    expect(ring.ownership()).toEqual(new Map([['a', 0]]));
    expect(ring.balance()).toBe(1);
  });
});

describe('TokenRing.ownerIndex', () => {
  it('agrees with a linear scan on random rings and random tokens', () => {
    const random = new Prng(11);
    for (let trial = 0; trial < 30; trial++) {
      const ring = randomRing(random, random.between(1, 12), random.between(1, 16));
      for (const token of randomTokens(random, 50)) {
        const i = ring.ownerIndex(token);
        expect(i).toBe(linearOwnerIndex(ring, token));
        // The range (tokenAt(i - 1), tokenAt(i)] contains the token, wrapping at index 0.
        if (i > 0) expect(ring.tokenAt(i - 1) < token && token <= ring.tokenAt(i)).toBe(true);
        else expect(token <= ring.tokenAt(0) || token > ring.tokenAt(ring.size - 1)).toBe(true);
      }
    }
  });

  it("gives a node's own token to that node, and the token just above to the next node", () => {
    const random = new Prng(12);
    for (let trial = 0; trial < 20; trial++) {
      const ring = randomRing(random, random.between(2, 8), random.between(1, 8));
      for (let i = 0; i < ring.size; i++) {
        const token = ring.tokenAt(i);
        expect(ring.ownerIndex(token)).toBe(i);
        if (token < TOKEN_MAX) expect(ring.ownerIndex(token + 1n)).toBe((i + 1) % ring.size);
        expect(ring.endpointAt(ring.ownerIndex(token)).tokens).toContain(token);
      }
    }
  });

  it('wraps past the largest token to the smallest', () => {
    const ring = TokenRing.of([placement('a', [-100n, 200n]), placement('b', [0n, 100n])]);
    expect(ring.ownerIndex(201n)).toBe(0);
    expect(ring.ownerIndex(TOKEN_MAX)).toBe(0);
    expect(ring.endpointAt(ring.ownerIndex(TOKEN_MAX)).id).toBe('a');
    expect(ring.ownerIndex(TOKEN_MIN)).toBe(0);
    expect(ring.ownerIndex(-101n)).toBe(0);
    expect(ring.ownerIndex(-99n)).toBe(1);
    expect(ring.endpointAt(ring.ownerIndex(150n)).id).toBe('a');
    expect(ring.endpointAt(ring.ownerIndex(50n)).id).toBe('b');
    // With one token, every token belongs to it.
    const single = TokenRing.of([placement('s', [7n])]);
    for (const t of [TOKEN_MIN, 7n, 8n, TOKEN_MAX]) expect(single.ownerIndex(t)).toBe(0);
  });
});

describe('TokenRing.ownership and balance', () => {
  it('gives exact shares on a two-node ring with tokens 0 and 2^62', () => {
    const ring = TokenRing.of([placement('a', [0n]), placement('b', [quarter])]);
    // a owns (2^62, 0], wrapping: 2^64 - 2^62 tokens; b owns (0, 2^62]: 2^62 tokens.
    expect(ring.rangeWidth(0)).toBe((1n << 64n) - quarter);
    expect(ring.rangeWidth(1)).toBe(quarter);
    expect(ring.ownership()).toEqual(
      new Map([
        ['a', 0.75],
        ['b', 0.25],
      ]),
    );
    expect(ring.balance()).toBe(1.5);
  });

  it('gives one token the whole ring, and an evenly spaced ring a balance of 1', () => {
    expect(
      TokenRing.of([placement('a', [TOKEN_MIN])])
        .ownership()
        .get('a'),
    ).toBe(1);
    const even = TokenRing.of(
      ['a', 'b', 'c', 'd'].map((id, i) => placement(id, [TOKEN_MIN + BigInt(i) * quarter])),
    );
    expect([...even.ownership().values()]).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(even.balance()).toBe(1);
  });

  it('sums to 1 on random rings, with range widths adding up to exactly 2^64', () => {
    const random = new Prng(13);
    for (let trial = 0; trial < 30; trial++) {
      const ring = TokenRing.of([
        ...Array.from({ length: random.between(1, 20) }, (_, i) =>
          placement(`n${i}`, randomTokens(random, random.between(1, 32))),
        ),
        placement('idle', []),
      ]);
      let width = 0n;
      for (let i = 0; i < ring.size; i++) width += ring.rangeWidth(i);
      expect(width).toBe(1n << 64n);
      const shares = ring.ownership();
      expect(shares.get('idle')).toBe(0);
      const sum = [...shares.values()].reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - 1)).toBeLessThan(1e-9);
      expect(ring.balance()).toBeCloseTo(Math.max(...shares.values()) * shares.size, 12);
    }
  });
});

describe('balance against virtual nodes (the measurement behind VNODES_DEFAULT)', () => {
  const nodeCounts = [3, 10, 100];
  const vnodeCounts = [1, 4, 8, 16, 32, 64, 256];
  const seeds = 20;

  /** Mean balance over the seeds, for each node count and vnode count. */
  function measure(): Map<number, Map<number, number>> {
    const table = new Map<number, Map<number, number>>();
    for (const nodes of nodeCounts) {
      const row = new Map<number, number>();
      for (const vnodes of vnodeCounts) {
        let sum = 0;
        for (let seed = 1; seed <= seeds; seed++) {
          sum += randomRing(new Prng(seed * 1000 + nodes), nodes, vnodes).balance();
        }
        row.set(vnodes, sum / seeds);
      }
      table.set(nodes, row);
    }
    return table;
  }

  it('improves as vnodes grow, and the default keeps a 10-node ring within 30% of even', () => {
    const table = measure();
    for (const nodes of nodeCounts) {
      const b = table.get(nodes)!;
      for (const value of b.values()) expect(value).toBeGreaterThanOrEqual(1);
      expect(b.get(256)!).toBeLessThan(b.get(16)!);
      expect(b.get(16)!).toBeLessThan(b.get(1)!);
    }
    const ten = table.get(10)!;
    for (let k = 1; k < vnodeCounts.length; k++) {
      // Monotone-ish: a doubling or more of vnodes never makes the mean balance worse.
      expect(ten.get(vnodeCounts[k]!)!).toBeLessThan(ten.get(vnodeCounts[k - 1]!)!);
    }
    expect(ten.get(VNODES_DEFAULT)!).toBeLessThan(1.3);
    // More nodes share the ring less evenly for the same vnodes (a max over more shares).
    expect(table.get(100)!.get(16)!).toBeGreaterThan(table.get(3)!.get(16)!);
  });
});
