import { describe, expect, it } from 'vitest';
import { Prng } from '../util/prng.js';
import { expectInvalid } from '../util/testing/expect-invalid.js';
import { effectiveOwnership, REPLICATION_FACTOR_MAX } from './replication.js';
import { allocateTokens } from './token-allocation.js';
import {
  randomTokens,
  TOKEN_MAX,
  TOKEN_MIN,
  TokenRing,
  VNODES_MAX,
  type EndpointPlacement,
} from './token-ring.js';

function placement(id: string, tokens: readonly bigint[]): EndpointPlacement {
  return { id, tokens, datacenter: 'dc1', rack: 'r1' };
}

function randomPlacements(random: Prng, nodes: number, vnodes: number): EndpointPlacement[] {
  return Array.from({ length: nodes }, (_, i) => placement(`n${i}`, randomTokens(random, vnodes)));
}

interface Join {
  readonly before: TokenRing;
  readonly after: TokenRing;
  readonly tokens: bigint[];
}

function join(placements: readonly EndpointPlacement[], vnodes: number, rf?: number): Join {
  const before = TokenRing.of(placements);
  const tokens = allocateTokens(before, vnodes, rf === undefined ? {} : { replicationFactor: rf });
  const after = TokenRing.of([...placements, placement('new', tokens)]);
  return { before, after, tokens };
}

/** The new node's share over its fair share: 1 is exact. */
function primaryRatio({ after }: Join): number {
  return after.ownership().get('new')! * after.endpoints.length;
}

function replicatedRatio({ after }: Join, rf: number): number {
  const share = effectiveOwnership(after, { kind: 'simple', replicationFactor: rf }).get('new')!;
  return (share * after.endpoints.length) / Math.min(rf, after.endpoints.length);
}

function expectValidTokens({ before, tokens }: Join, vnodes: number): void {
  expect(tokens).toHaveLength(vnodes);
  const existing = new Set(Array.from({ length: before.size }, (_, i) => before.tokenAt(i)));
  for (let i = 0; i < tokens.length; i++) {
    expect(tokens[i]! >= TOKEN_MIN && tokens[i]! <= TOKEN_MAX).toBe(true);
    expect(existing.has(tokens[i]!), `token ${tokens[i]} reused`).toBe(false);
    if (i > 0) expect(tokens[i - 1]! < tokens[i]!).toBe(true);
  }
}

describe('allocateTokens', () => {
  // The product's requirement: the data a join moves is within 10% of the fair share, as
  // primary owner and at replication factor 3, on rings of 64 random vnodes per node.
  it.each([3, 10, 100])(
    'gives the node joining %i random nodes its fair share, primary and at RF 3',
    (nodes) => {
      for (let seed = 1; seed <= 3; seed++) {
        const random = new Prng(nodes * 100 + seed);
        const result = join(randomPlacements(random, nodes, 64), 64);
        expectValidTokens(result, 64);
        const primary = primaryRatio(result);
        const replicated = replicatedRatio(result, 3);
        expect(Math.abs(primary - 1), `primary ${primary} (seed ${seed})`).toBeLessThan(0.1);
        expect(Math.abs(replicated - 1), `RF 3 ${replicated} (seed ${seed})`).toBeLessThan(0.1);
        // The slices come from the most loaded nodes, so the ring is no less balanced.
        expect(result.after.balance()).toBeLessThanOrEqual(result.before.balance());
      }
    },
  );

  it('balances for the replication factor it is given', () => {
    const random = new Prng(7);
    for (const rf of [1, 2, 5]) {
      const result = join(randomPlacements(random, 12, 32), 32, rf);
      expectValidTokens(result, 32);
      expect(Math.abs(primaryRatio(result) - 1)).toBeLessThan(0.1);
      expect(Math.abs(replicatedRatio(result, rf) - 1), `RF ${rf}`).toBeLessThan(0.1);
    }
  });

  it('is a function of the ring', () => {
    const placements = randomPlacements(new Prng(8), 10, 16);
    expect(join(placements, 16).tokens).toEqual(join(placements, 16).tokens);
  });

  it('keeps joins fair as a ring grows by allocated nodes', () => {
    const random = new Prng(9);
    const placements = randomPlacements(random, 3, 16);
    for (let n = 3; n < 12; n++) {
      const result = join(placements, 16);
      expect(Math.abs(primaryRatio(result) - 1), `node ${n}`).toBeLessThan(0.1);
      expect(Math.abs(replicatedRatio(result, 3) - 1), `node ${n}`).toBeLessThan(0.1);
      placements.push(placement(`a${n}`, result.tokens));
    }
    expect(TokenRing.of(placements).balance()).toBeLessThan(1.15);
  });

  it('handles small rings: empty, one token, fewer nodes than the replication factor', () => {
    const even = allocateTokens(TokenRing.of([]), 4);
    expect(even).toHaveLength(4);
    const ring = TokenRing.of([placement('new', even)]);
    for (const share of ring.ownership().values()) expect(share).toBe(1);
    for (let i = 0; i < 4; i++) expect(ring.rangeWidth(i)).toBe(1n << 62n);
    expect(allocateTokens(TokenRing.of([placement('idle', [])]), 2)).toHaveLength(2);

    const one = join([placement('a', [0n])], 8);
    expectValidTokens(one, 8);
    expect(primaryRatio(one)).toBeCloseTo(1, 6);

    const two = join(randomPlacements(new Prng(10), 2, 8), 8);
    expectValidTokens(two, 8);
    expect(Math.abs(primaryRatio(two) - 1)).toBeLessThan(0.1);
    expect(replicatedRatio(two, 3)).toBe(1);
  });

  it('never reuses a token, even where tokens are crowded', () => {
    // Tokens one apart, at the ends of the ring, and one wide gap.
    const crowded = [
      placement('a', [TOKEN_MIN, TOKEN_MIN + 1n, TOKEN_MIN + 2n, 0n]),
      placement('b', [TOKEN_MAX - 1n, TOKEN_MAX, -1n, 1n]),
    ];
    for (const vnodes of [1, 5, 40]) expectValidTokens(join(crowded, vnodes), vnodes);
    const random = new Prng(11);
    for (let round = 0; round < 20; round++) {
      const vnodes = random.between(1, 12);
      const result = join(
        randomPlacements(random, random.between(1, 6), random.between(1, 6)),
        vnodes,
      );
      expectValidTokens(result, vnodes);
    }
  });

  it('rejects bad token counts and replication factors', () => {
    const ring = TokenRing.of([placement('a', [0n])]);
    for (const vnodes of [0, -1, 1.5, VNODES_MAX + 1])
      expectInvalid(() => allocateTokens(ring, vnodes));
    for (const rf of [0, 2.5, REPLICATION_FACTOR_MAX + 1]) {
      expectInvalid(() => allocateTokens(ring, 4, { replicationFactor: rf }));
    }
  });
});
