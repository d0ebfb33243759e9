import { describe, expect, it } from 'vitest';
import { expectInvalid } from '../util/testing/expect-invalid.js';
import { Prng } from '../util/prng.js';
import {
  effectiveOwnership,
  REPLICATION_FACTOR_MAX,
  replicaTable,
  replicasFor,
  totalReplicationFactor,
  type ReplicationStrategy,
} from './replication.js';
import { randomTokens, TokenRing, type EndpointPlacement } from './token-ring.js';

function simple(replicationFactor: number): ReplicationStrategy {
  return { kind: 'simple', replicationFactor };
}

function network(datacenters: Record<string, number>): ReplicationStrategy {
  return { kind: 'network', datacenters };
}

interface RingShape {
  readonly nodes: number;
  readonly vnodes: number;
  readonly datacenters: number;
  readonly racks: number;
}

/**
 * Endpoints spread over datacenters dc0.. and racks r0.. at random; sometimes also an endpoint
 * without tokens (joining) on a rack of its own, which must count for nothing.
 */
function randomPlacements(random: Prng, shape: RingShape): EndpointPlacement[] {
  const placements = Array.from({ length: shape.nodes }, (_, i) => ({
    id: `n${i}`,
    tokens: randomTokens(random, shape.vnodes),
    datacenter: `dc${random.int(shape.datacenters)}`,
    rack: `r${random.int(shape.racks)}`,
  }));
  if (random.chance(0.3)) {
    const datacenter = `dc${random.int(shape.datacenters)}`;
    placements.push({ id: 'joining', tokens: [], datacenter, rack: 'r-joining' });
  }
  return placements;
}

function holding(ring: TokenRing): EndpointPlacement[] {
  return ring.endpoints.filter((e) => e.tokens.length > 0);
}

function randomShape(random: Prng): RingShape {
  return {
    nodes: random.between(1, 12),
    vnodes: random.between(1, 8),
    datacenters: random.between(1, 3),
    racks: random.between(1, 4),
  };
}

function randomNetwork(random: Prng): ReplicationStrategy {
  return network({
    dc0: random.between(1, 4),
    dc1: random.between(0, 3),
    dc2: random.between(0, 3),
  });
}

/** Endpoints in ring-walk order from `token`'s owner, each once (by first appearance). */
function walkOrder(ring: TokenRing, token: bigint): EndpointPlacement[] {
  let start = 0;
  while (start < ring.size && ring.tokenAt(start) < token) start++;
  const seen = new Set<string>();
  const order: EndpointPlacement[] = [];
  for (let step = 0; step < ring.size; step++) {
    const endpoint = ring.endpointAt((start + step) % ring.size);
    if (!seen.has(endpoint.id)) order.push(endpoint);
    seen.add(endpoint.id);
  }
  return order;
}

/** SimpleStrategy by definition: the first RF distinct endpoints clockwise. */
function simpleReference(ring: TokenRing, token: bigint, rf: number): string[] {
  return walkOrder(ring, token)
    .slice(0, rf)
    .map((e) => e.id);
}

/**
 * NetworkTopologyStrategy in the form of older Cassandra, written independently of the code
 * under test: endpoints on a rack already used in their datacenter are kept aside, and taken in
 * ring order once every rack of the datacenter is used. The result is put in walk order.
 */
function networkReference(
  ring: TokenRing,
  token: bigint,
  datacenters: Readonly<Record<string, number>>,
): string[] {
  const order = walkOrder(ring, token);
  const rfOf = (dc: string): number => datacenters[dc] ?? 0;
  const chosen = new Set<string>();
  const byDc = new Map<string, Set<string>>();
  const seenRacks = new Map<string, Set<string>>();
  const skipped = new Map<string, string[]>();
  const allRacks = new Map<string, Set<string>>();
  const nodeCount = new Map<string, number>();
  for (const e of ring.endpoints) {
    if (e.tokens.length === 0) continue;
    if (!allRacks.has(e.datacenter)) allRacks.set(e.datacenter, new Set());
    allRacks.get(e.datacenter)!.add(e.rack);
    nodeCount.set(e.datacenter, (nodeCount.get(e.datacenter) ?? 0) + 1);
    byDc.set(e.datacenter, new Set());
    seenRacks.set(e.datacenter, new Set());
    skipped.set(e.datacenter, []);
  }
  const sufficient = (dc: string): boolean =>
    byDc.get(dc)!.size >= Math.min(rfOf(dc), nodeCount.get(dc)!);
  const take = (dc: string, id: string): void => {
    byDc.get(dc)!.add(id);
    chosen.add(id);
  };
  for (const e of order) {
    const dc = e.datacenter;
    if (rfOf(dc) === 0 || sufficient(dc)) continue;
    const racks = seenRacks.get(dc)!;
    if (racks.size === allRacks.get(dc)!.size) {
      take(dc, e.id);
    } else if (racks.has(e.rack)) {
      skipped.get(dc)!.push(e.id);
    } else {
      take(dc, e.id);
      racks.add(e.rack);
      if (racks.size === allRacks.get(dc)!.size) {
        for (const id of skipped.get(dc)!) if (!sufficient(dc)) take(dc, id);
      }
    }
  }
  return order.filter((e) => chosen.has(e.id)).map((e) => e.id);
}

/** Tokens worth asking about: random ones plus every node token and its neighbours. */
function probeTokens(random: Prng, ring: TokenRing): bigint[] {
  const tokens = randomTokens(random, 20);
  for (let i = 0; i < ring.size; i++) tokens.push(ring.tokenAt(i), ring.tokenAt(i) + 1n);
  return tokens.filter((t) => t < 1n << 63n);
}

describe('totalReplicationFactor', () => {
  it('is the factor of a simple strategy and the sum over datacenters of a network one', () => {
    expect(totalReplicationFactor(simple(3))).toBe(3);
    expect(totalReplicationFactor(network({ east: 3, west: 2, backup: 0 }))).toBe(5);
  });
});

describe('replicasFor, simple strategy', () => {
  it('matches the definition on random rings: distinct, min(RF, endpoints) long, owner first', () => {
    const random = new Prng(21);
    for (let trial = 0; trial < 40; trial++) {
      const ring = TokenRing.of(randomPlacements(random, randomShape(random)));
      const rf = random.between(1, 5);
      for (const token of probeTokens(random, ring)) {
        const replicas = replicasFor(ring, token, simple(rf));
        expect(replicas).toEqual(simpleReference(ring, token, rf));
        expect(new Set(replicas).size).toBe(replicas.length);
        expect(replicas.length).toBe(Math.min(rf, holding(ring).length));
        expect(replicas[0]).toBe(ring.endpointAt(ring.ownerIndex(token)).id);
      }
    }
  });

  it('walks clockwise from the owner and wraps past the largest token', () => {
    const ring = TokenRing.of([
      { id: 'a', tokens: [10n, 50n], datacenter: 'dc', rack: 'r' },
      { id: 'b', tokens: [20n], datacenter: 'dc', rack: 'r' },
      { id: 'c', tokens: [30n], datacenter: 'dc', rack: 'r' },
    ]);
    expect(replicasFor(ring, 10n, simple(2))).toEqual(['a', 'b']);
    expect(replicasFor(ring, 11n, simple(2))).toEqual(['b', 'c']);
    expect(replicasFor(ring, 25n, simple(2))).toEqual(['c', 'a']);
    expect(replicasFor(ring, 51n, simple(3))).toEqual(['a', 'b', 'c']);
    expect(replicasFor(ring, 45n, simple(3))).toEqual(['a', 'b', 'c']);
    expect(replicasFor(ring, 30n, simple(5))).toEqual(['c', 'a', 'b']);
  });

  it('skips endpoints that hold no token, and returns nothing on an empty ring', () => {
    const idle = { id: 'idle', tokens: [], datacenter: 'dc', rack: 'r' };
    const ring = TokenRing.of([{ id: 'a', tokens: [1n], datacenter: 'dc', rack: 'r' }, idle]);
    expect(replicasFor(ring, 0n, simple(3))).toEqual(['a']);
    expect(replicasFor(TokenRing.of([idle]), 0n, simple(3))).toEqual([]);
    expect(replicaTable(TokenRing.of([idle]), simple(3))).toEqual([]);
  });
});

describe('replicasFor, network strategy', () => {
  // Datacenter one has racks A and B; datacenter two has one endpoint.
  const ring = TokenRing.of([
    { id: 'a1', tokens: [10n], datacenter: 'one', rack: 'A' },
    { id: 'a2', tokens: [20n], datacenter: 'one', rack: 'A' },
    { id: 'c1', tokens: [30n], datacenter: 'two', rack: 'X' },
    { id: 'b1', tokens: [40n], datacenter: 'one', rack: 'B' },
  ]);

  it('passes over a used rack while another rack remains, in ring-walk order', () => {
    expect(replicasFor(ring, 5n, network({ one: 2, two: 1 }))).toEqual(['a1', 'c1', 'b1']);
    expect(replicasFor(ring, 15n, network({ one: 2, two: 1 }))).toEqual(['a2', 'c1', 'b1']);
    expect(replicasFor(ring, 35n, network({ one: 2 }))).toEqual(['b1', 'a1']);
    // The simple strategy ignores racks.
    expect(replicasFor(ring, 5n, simple(2))).toEqual(['a1', 'a2']);
  });

  it('takes a used rack again, in ring order, when a datacenter has fewer racks than RF', () => {
    expect(replicasFor(ring, 5n, network({ one: 3 }))).toEqual(['a1', 'a2', 'b1']);
    expect(replicasFor(ring, 35n, network({ one: 3, two: 1 }))).toEqual(['b1', 'a1', 'a2', 'c1']);
    // More than there are endpoints: all of them.
    expect(replicasFor(ring, 25n, network({ one: 5, two: 2 }))).toEqual(['c1', 'b1', 'a1', 'a2']);
  });

  it('places nothing in a datacenter with factor 0 or not named', () => {
    expect(replicasFor(ring, 5n, network({ one: 0, two: 1 }))).toEqual(['c1']);
    expect(replicasFor(ring, 5n, network({ two: 1, elsewhere: 3 }))).toEqual(['c1']);
  });

  it('matches the keep-aside formulation of NetworkTopologyStrategy on random rings', () => {
    const random = new Prng(22);
    for (let trial = 0; trial < 60; trial++) {
      const placed = TokenRing.of(randomPlacements(random, randomShape(random)));
      const strategy = randomNetwork(random);
      if (strategy.kind !== 'network') throw new Error('unreachable');
      for (const token of probeTokens(random, placed)) {
        expect(replicasFor(placed, token, strategy)).toEqual(
          networkReference(placed, token, strategy.datacenters),
        );
      }
    }
  });

  it('respects per-datacenter counts, and racks: distinct when enough, all used otherwise', () => {
    const random = new Prng(23);
    for (let trial = 0; trial < 60; trial++) {
      const shape = { ...randomShape(random), nodes: random.between(4, 16) };
      const placed = TokenRing.of(randomPlacements(random, shape));
      const strategy = randomNetwork(random);
      if (strategy.kind !== 'network') throw new Error('unreachable');
      const byId = new Map(placed.endpoints.map((e) => [e.id, e]));
      for (const token of probeTokens(random, placed)) {
        const replicas = replicasFor(placed, token, strategy);
        expect(new Set(replicas).size).toBe(replicas.length);
        for (const [dc, rf] of Object.entries(strategy.datacenters)) {
          const members = holding(placed).filter((e) => e.datacenter === dc);
          const racks = new Set(members.map((e) => e.rack));
          const chosen = replicas.map((id) => byId.get(id)!).filter((e) => e.datacenter === dc);
          const chosenRacks = new Set(chosen.map((e) => e.rack));
          expect(chosen.length).toBe(Math.min(rf, members.length));
          if (racks.size >= rf) expect(chosenRacks.size).toBe(chosen.length);
          else expect(chosenRacks.size).toBe(racks.size);
        }
        // The owner leads the list when its datacenter takes replicas.
        const owner = placed.endpointAt(placed.ownerIndex(token));
        if ((strategy.datacenters[owner.datacenter] ?? 0) > 0) expect(replicas[0]).toBe(owner.id);
      }
    }
  });
});

describe('consistent hashing', () => {
  /** Ranges whose replicas did not include the removed endpoint keep the same replicas. */
  function checkRemoval(
    random: Prng,
    ring: TokenRing,
    strategy: ReplicationStrategy,
    gone: string,
  ) {
    const smaller = TokenRing.of(ring.endpoints.filter((e) => e.id !== gone));
    let unchanged = 0;
    let moved = 0;
    for (const token of [...probeTokens(random, ring), ...probeTokens(random, smaller)]) {
      const before = replicasFor(ring, token, strategy);
      const after = replicasFor(smaller, token, strategy);
      if (!before.includes(gone)) {
        expect(after).toEqual(before);
        unchanged++;
      } else {
        // The others stay, in the same order; one newcomer takes the removed endpoint's place.
        expect(after.filter((id) => before.includes(id))).toEqual(
          before.filter((id) => id !== gone),
        );
        expect(after.length).toBe(before.length);
        moved++;
      }
    }
    return { unchanged, moved };
  }

  it('moves only the ranges a removed endpoint was a replica of (simple strategy)', () => {
    const random = new Prng(31);
    for (let trial = 0; trial < 20; trial++) {
      const ring = TokenRing.of(
        randomPlacements(random, {
          nodes: random.between(5, 12),
          vnodes: 8,
          datacenters: 1,
          racks: 1,
        }),
      );
      const gone = random.pick(holding(ring)).id;
      const { unchanged, moved } = checkRemoval(random, ring, simple(3), gone);
      expect(unchanged).toBeGreaterThan(0);
      expect(moved).toBeGreaterThan(0);
      // Nobody else's primary share shrinks.
      const before = ring.ownership();
      const after = TokenRing.of(ring.endpoints.filter((e) => e.id !== gone)).ownership();
      for (const [id, share] of after) expect(share).toBeGreaterThanOrEqual(before.get(id)!);
    }
  });

  it('moves only those ranges under the network strategy too, when racks and counts remain', () => {
    const random = new Prng(32);
    let checked = 0;
    for (let trial = 0; checked < 15; trial++) {
      expect(trial).toBeLessThan(1000);
      const ring = TokenRing.of(
        randomPlacements(random, { nodes: 14, vnodes: 8, datacenters: 2, racks: 3 }),
      );
      const strategy = network({ dc0: 2, dc1: 3 });
      const gone = random.pick(holding(ring));
      // Rack counts and node counts enter the algorithm; keep them unchanged by the removal.
      const peers = holding(ring).filter((e) => e.datacenter === gone.datacenter && e !== gone);
      const rf = strategy.kind === 'network' ? strategy.datacenters[gone.datacenter]! : 0;
      if (!peers.some((e) => e.rack === gone.rack) || peers.length < rf) continue;
      checkRemoval(random, ring, strategy, gone.id);
      checked++;
    }
  });
});

describe('replicaTable', () => {
  it('holds the preference list of every token index, shared and frozen', () => {
    const random = new Prng(41);
    const ring = TokenRing.of(
      randomPlacements(random, { nodes: 3, vnodes: 16, datacenters: 1, racks: 2 }),
    );
    const table = replicaTable(ring, simple(2));
    expect(table).toHaveLength(ring.size);
    for (let i = 0; i < ring.size; i++) {
      expect(table[i]).toEqual(replicasFor(ring, ring.tokenAt(i), simple(2)));
      expect(Object.isFrozen(table[i])).toBe(true);
    }
    // Three endpoints have at most six ordered pairs: identical lists are one array.
    expect(new Set(table).size).toBeLessThanOrEqual(6);
  });

  it('answers by value of the strategy, per ring', () => {
    const random = new Prng(42);
    const shape = { nodes: 8, vnodes: 4, datacenters: 2, racks: 2 };
    const one = TokenRing.of(randomPlacements(random, shape));
    const two = TokenRing.of(randomPlacements(random, shape));
    for (const token of randomTokens(random, 50)) {
      // Equal strategies written differently give the same list.
      expect(replicasFor(one, token, network({ dc0: 2, dc1: 1 }))).toEqual(
        replicasFor(one, token, network({ dc1: 1, dc0: 2 })),
      );
      // Another ring, or another strategy, gets its own table.
      expect(replicasFor(two, token, simple(3))).toEqual(simpleReference(two, token, 3));
      expect(replicasFor(one, token, simple(3))).toEqual(simpleReference(one, token, 3));
      expect(replicasFor(one, token, simple(1))).toEqual(simpleReference(one, token, 1));
    }
  });

  it('rejects malformed strategies', () => {
    const ring = TokenRing.of([{ id: 'a', tokens: [1n], datacenter: 'dc', rack: 'r' }]);
    for (const bad of [
      simple(0),
      simple(1.5),
      simple(REPLICATION_FACTOR_MAX + 1),
      network({}),
      network({ dc: 0 }),
      network({ dc: -1 }),
      network({ dc: 2, other: 0.5 }),
    ]) {
      expectInvalid(() => replicasFor(ring, 0n, bad));
      expectInvalid(() => replicaTable(ring, bad));
    }
    expect(replicasFor(ring, 0n, simple(REPLICATION_FACTOR_MAX))).toEqual(['a']);
  });
});

describe('effectiveOwnership', () => {
  it('sums to the total RF, and each replica holds at least its primary share', () => {
    const random = new Prng(51);
    for (let trial = 0; trial < 20; trial++) {
      const ring = TokenRing.of(
        randomPlacements(random, {
          nodes: random.between(6, 20),
          vnodes: 16,
          datacenters: 2,
          racks: 3,
        }),
      );
      const dcSizes = [0, 1].map(
        (d) => holding(ring).filter((e) => e.datacenter === `dc${d}`).length,
      );
      if (Math.min(...dcSizes) < 2) continue;
      for (const strategy of [simple(3), network({ dc0: 2, dc1: 2 })]) {
        const effective = effectiveOwnership(ring, strategy);
        const sum = [...effective.values()].reduce((a, b) => a + b, 0);
        expect(Math.abs(sum - totalReplicationFactor(strategy))).toBeLessThan(1e-9);
        const primary = ring.ownership();
        for (const [id, share] of effective) {
          expect(share).toBeLessThanOrEqual(1 + 1e-12);
          if (strategy.kind === 'simple') expect(share).toBeGreaterThanOrEqual(primary.get(id)!);
        }
      }
    }
  });

  it('equals primary ownership at RF 1, and 1 for everyone when RF is the node count', () => {
    const random = new Prng(52);
    const ring = TokenRing.of(
      randomPlacements(random, { nodes: 4, vnodes: 8, datacenters: 1, racks: 2 }),
    );
    expect(effectiveOwnership(ring, simple(1))).toEqual(ring.ownership());
    for (const [id, share] of effectiveOwnership(ring, simple(4))) {
      expect(share).toBeCloseTo(id === 'joining' ? 0 : 1, 12);
    }
  });

  it('sums to what the endpoints can hold when there are too few, and gives others 0', () => {
    const ring = TokenRing.of([
      { id: 'a', tokens: [0n], datacenter: 'east', rack: 'r' },
      { id: 'b', tokens: [1n << 62n], datacenter: 'east', rack: 'r' },
      { id: 'w', tokens: [-(1n << 62n)], datacenter: 'west', rack: 'r' },
      { id: 'idle', tokens: [], datacenter: 'east', rack: 'r' },
    ]);
    expect(effectiveOwnership(ring, network({ east: 3 }))).toEqual(
      new Map([
        ['a', 1],
        ['b', 1],
        ['idle', 0],
        ['w', 0],
      ]),
    );
    // w owns (2^62, -2^62], wrapping: half the ring; a owns (-2^62, 0]; b owns (0, 2^62].
    expect(effectiveOwnership(ring, simple(1))).toEqual(
      new Map([
        ['a', 0.25],
        ['b', 0.25],
        ['idle', 0],
        ['w', 0.5],
      ]),
    );
  });
});
