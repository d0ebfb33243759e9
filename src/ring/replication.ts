/**
 * Replica placement on the token ring: which endpoints hold the data of a token.
 *
 * The replicas of a token form its preference list: walk the ring clockwise from the token's
 * owner (`TokenRing.ownerIndex`) and take endpoints as the strategy allows, in the order met.
 * The coordinator of a request sends to the first replicas of that list, and hinted handoff and
 * read repair follow the same order, so the order is part of the contract, not only the set.
 *
 * - simple (Cassandra's SimpleStrategy): the first `replicationFactor` distinct endpoints met.
 * - network (NetworkTopologyStrategy): for each datacenter its own replication factor, counted
 *   among that datacenter's endpoints only, placed on distinct racks while there are racks to
 *   spare, so that losing a rack (a switch, a power feed) loses at most one replica of a range.
 *   An endpoint on a rack already used in its datacenter is taken only when the datacenter has
 *   fewer racks than its replication factor, and then the first such endpoints in ring order
 *   fill the difference. (Cassandra 4 does this in one pass: with `rf - racks` repeats allowed,
 *   it takes rack repeats as met. That yields the same set as keeping repeats aside until every
 *   rack is used and then taking them in ring order — the form in older Cassandra — and the list
 *   below is in ring-walk order either way.) A datacenter with fewer endpoints than its factor
 *   gets all of them.
 *
 * The list depends only on the owner index for a fixed ring and strategy, so `replicaTable`
 * computes it once for every token index, and `replicasFor` — which runs for every request — is
 * a binary search plus an array read. Cost of a table: memory for `ring.size` lists of up to
 * total-RF ids (identical lists are shared, so a small cluster holds only a handful), and time
 * of one clockwise walk per token, each walk stopping when every datacenter is filled: a few
 * steps more than total RF on an ordinary ring, the whole ring only when some datacenter or
 * rack holds a tiny fraction of the tokens. Tables are kept per ring (weakly, so a ring that is
 * replaced is collected with its tables) and per strategy, up to `tablesPerRingMax` strategies.
 */
import { assert, unreachable } from '../util/assert.js';
import { invalidArgument } from '../util/errors.js';
import { shareOf, type TokenRing } from './token-ring.js';

export type ReplicationStrategy =
  | { readonly kind: 'simple'; readonly replicationFactor: number }
  /** NetworkTopologyStrategy: the replication factor of each datacenter, by name. */
  | { readonly kind: 'network'; readonly datacenters: Readonly<Record<string, number>> };

/** Upper bound on one replication factor (of the simple strategy, or of one datacenter). */
export const REPLICATION_FACTOR_MAX = 32;

/** How many strategies' tables are kept per ring; the oldest is dropped past that. */
const tablesPerRingMax = 8;

/** The replicas of each token index; the lists are frozen and may be shared between indexes. */
export type ReplicaTable = readonly (readonly string[])[];

const noReplicas: readonly string[] = Object.freeze([]);

/** The sum of the replication factors: the replicas of a token when there are enough endpoints. */
export function totalReplicationFactor(strategy: ReplicationStrategy): number {
  switch (strategy.kind) {
    case 'simple':
      return strategy.replicationFactor;
    case 'network':
      return Object.values(strategy.datacenters).reduce((sum, rf) => sum + rf, 0);
    default:
      return unreachable(strategy, 'unknown replication strategy');
  }
}

/**
 * The preference list of `token`: its replicas in ring order, starting from the owner. Fewer
 * than the replication factor when there are fewer eligible endpoints; empty on an empty ring.
 * The list is shared with the cached table and frozen: do not modify it.
 */
export function replicasFor(
  ring: TokenRing,
  token: bigint,
  strategy: ReplicationStrategy,
): readonly string[] {
  if (ring.size === 0) return noReplicas;
  return cachedReplicaTable(ring, strategy)[ring.ownerIndex(token)]!;
}

/**
 * The preference list of every token index, computed afresh: entry `i` lists the replicas of
 * the range (tokenAt(i - 1), tokenAt(i)]. `replicasFor` uses the same table, cached.
 */
export function replicaTable(ring: TokenRing, strategy: ReplicationStrategy): ReplicaTable {
  validateStrategy(strategy);
  const walk =
    strategy.kind === 'simple' ? simpleWalk(ring, strategy) : networkWalk(ring, strategy);
  // Intern identical lists: the table then costs a pointer per token plus the distinct lists.
  const lists = new Map<string, readonly string[]>();
  const table: (readonly string[])[] = [];
  for (let i = 0; i < ring.size; i++) {
    const replicas = walk(i);
    const key = replicas.join(',');
    let list = lists.get(key);
    if (list === undefined) {
      list = Object.freeze(replicas.map((e) => ring.endpoints[e]!.id));
      lists.set(key, list);
    }
    table.push(list);
  }
  return Object.freeze(table);
}

/**
 * Each endpoint's share of the token space that it holds a replica of (Cassandra's "effective
 * ownership", the "owns" column of `tessera ring`), by id; every endpoint is listed. The shares
 * sum to the total replication factor when every datacenter has at least its factor of
 * endpoints, and in general to the mean length of the preference lists.
 */
export function effectiveOwnership(
  ring: TokenRing,
  strategy: ReplicationStrategy,
): Map<string, number> {
  const widths = new Map<string, bigint>(ring.endpoints.map((e) => [e.id, 0n]));
  if (ring.size > 0) {
    const table = cachedReplicaTable(ring, strategy);
    for (let i = 0; i < ring.size; i++) {
      const width = ring.rangeWidth(i);
      for (const id of table[i]!) widths.set(id, widths.get(id)! + width);
    }
  }
  return new Map([...widths].map(([id, width]) => [id, shareOf(width)]));
}

// ---------------------------------------------------------------------------------------------
// Walks. Each takes a token index and returns the replicas' indexes in `ring.endpoints`.

type Walk = (start: number) => number[];

function simpleWalk(
  ring: TokenRing,
  strategy: Extract<ReplicationStrategy, { kind: 'simple' }>,
): Walk {
  const holding = ring.endpoints.filter((e) => e.tokens.length > 0).length;
  const wanted = Math.min(strategy.replicationFactor, holding);
  return (start) => {
    const replicas: number[] = [];
    for (let step = 0; step < ring.size && replicas.length < wanted; step++) {
      const endpoint = ring.endpointIndexAt((start + step) % ring.size);
      // A linear scan: the list is at most REPLICATION_FACTOR_MAX long, usually 3.
      if (!replicas.includes(endpoint)) replicas.push(endpoint);
    }
    assert(replicas.length === wanted, 'simple strategy: the walk found too few endpoints');
    return replicas;
  };
}

function networkWalk(
  ring: TokenRing,
  strategy: Extract<ReplicationStrategy, { kind: 'network' }>,
): Walk {
  const names = Object.keys(strategy.datacenters).filter((dc) => strategy.datacenters[dc]! > 0);
  const dcIndex = new Map(names.map((dc, d) => [dc, d]));
  // Per endpoint: its datacenter's index in `names` (-1 when the strategy places nothing there
  // or it holds no token) and a number for its (datacenter, rack) pair.
  const dcOf: number[] = [];
  const rackOf: number[] = [];
  const rackIndex = new Map<string, number>();
  const nodes = names.map(() => 0);
  const racksUsed = names.map(() => new Set<number>());
  for (const endpoint of ring.endpoints) {
    const d = endpoint.tokens.length > 0 ? (dcIndex.get(endpoint.datacenter) ?? -1) : -1;
    dcOf.push(d);
    const rackKey = JSON.stringify([endpoint.datacenter, endpoint.rack]);
    let rack = rackIndex.get(rackKey);
    if (rack === undefined) {
      rack = rackIndex.size;
      rackIndex.set(rackKey, rack);
    }
    rackOf.push(rack);
    if (d >= 0) {
      nodes[d]!++;
      racksUsed[d]!.add(rack);
    }
  }
  // Cassandra's DatacenterEndpoints: replicas still wanted, and rack repeats still allowed.
  const wantedStart = names.map((dc, d) => Math.min(strategy.datacenters[dc]!, nodes[d]!));
  const repeatsStart = names.map((dc, d) => strategy.datacenters[dc]! - racksUsed[d]!.size);
  const pendingStart = wantedStart.filter((wanted) => wanted > 0).length;
  // "Seen in this walk" marks, reset in O(1) by moving to a new stamp for each walk.
  const endpointSeen = new Uint32Array(ring.endpoints.length);
  const rackSeen = new Uint32Array(rackIndex.size);
  let stamp = 0;

  return (start) => {
    stamp++;
    const wanted = wantedStart.slice();
    const repeats = repeatsStart.slice();
    let pending = pendingStart;
    const replicas: number[] = [];
    for (let step = 0; step < ring.size && pending > 0; step++) {
      const endpoint = ring.endpointIndexAt((start + step) % ring.size);
      const d = dcOf[endpoint]!;
      if (d < 0 || wanted[d] === 0 || endpointSeen[endpoint] === stamp) continue;
      const rack = rackOf[endpoint]!;
      if (rackSeen[rack] !== stamp) {
        rackSeen[rack] = stamp;
      } else if (repeats[d]! > 0) {
        repeats[d]!--;
      } else {
        continue; // Racks not yet used remain further on; keep to them.
      }
      endpointSeen[endpoint] = stamp;
      replicas.push(endpoint);
      if (--wanted[d]! === 0) pending--;
    }
    assert(pending === 0, 'network strategy: the walk found too few endpoints');
    return replicas;
  };
}

// ---------------------------------------------------------------------------------------------
// Cache and validation.

const tablesByRing = new WeakMap<TokenRing, Map<string, ReplicaTable>>();
const keysByStrategy = new WeakMap<ReplicationStrategy, string>();

/**
 * The table for (ring, strategy), built on first use. Strategies are matched by value, so a
 * caller that builds an equal strategy object per request still hits the cache. A pure memo of
 * `replicaTable`: the answer is the same with or without it.
 */
function cachedReplicaTable(ring: TokenRing, strategy: ReplicationStrategy): ReplicaTable {
  const key = strategyKey(strategy);
  let tables = tablesByRing.get(ring);
  if (tables === undefined) {
    tables = new Map();
    tablesByRing.set(ring, tables);
  }
  let table = tables.get(key);
  if (table === undefined) {
    table = replicaTable(ring, strategy);
    if (tables.size >= tablesPerRingMax) tables.delete(tables.keys().next().value!);
    tables.set(key, table);
  }
  return table;
}

/**
 * A canonical string for a strategy (datacenters sorted), validating it on first sight. A
 * network strategy's key is remembered per object, as building it costs a sort and a JSON.
 */
function strategyKey(strategy: ReplicationStrategy): string {
  if (strategy.kind === 'simple') {
    validateStrategy(strategy);
    return `simple:${strategy.replicationFactor}`;
  }
  let key = keysByStrategy.get(strategy);
  if (key === undefined) {
    validateStrategy(strategy);
    const entries = Object.entries(strategy.datacenters).sort(([a], [b]) => (a < b ? -1 : 1));
    key = `network:${JSON.stringify(entries)}`;
    keysByStrategy.set(strategy, key);
  }
  return key;
}

function validateStrategy(strategy: ReplicationStrategy): void {
  const checkFactor = (rf: number, min: number, where: string): void => {
    if (!Number.isInteger(rf) || rf < min || rf > REPLICATION_FACTOR_MAX) {
      throw invalidArgument(
        `${where}: replication factor must be an integer in [${min}, ${REPLICATION_FACTOR_MAX}], got ${rf}`,
        { replicationFactor: rf },
      );
    }
  };
  switch (strategy.kind) {
    case 'simple':
      checkFactor(strategy.replicationFactor, 1, 'simple strategy');
      return;
    case 'network': {
      // A datacenter may have factor 0 (no replicas there), but some datacenter must have one.
      for (const [dc, rf] of Object.entries(strategy.datacenters)) {
        checkFactor(rf, 0, `datacenter '${dc}'`);
      }
      if (totalReplicationFactor(strategy) < 1) {
        throw invalidArgument('network strategy: no datacenter has a replication factor above 0');
      }
      return;
    }
    default:
      unreachable(strategy, 'unknown replication strategy');
  }
}
