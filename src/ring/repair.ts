/**
 * Anti-entropy repair of one hashed table (Dynamo's and Cassandra's): the replicas of each
 * token range build Merkle trees of what they hold there, the trees are compared, and under
 * the differing leaves only, each pair of replicas that differ lists its rows with digests and
 * sends the other the rows it lacks or holds differently. Afterwards every pair holds the
 * union of what either held, which resolves by timestamp exactly as a read across them would.
 *
 * Ranges are taken by replica set ("group"): the primary ranges whose replicas are the same
 * nodes are compared together, one tree per group. Each replica builds the trees of all its
 * groups in one scan of its tablet (range-data.ts), since rows sit in key order, not token
 * order, and a scan per range would read the table once per range.
 *
 * A replica that is down is left out of its groups' comparison (the others are still
 * repaired among themselves) and the group is counted as incomplete: run repair again once it
 * is back. Nothing here reads a clock: the caller gives the instant trees are taken at, the
 * same for every replica, so TTL expiry cannot make two replicas look different.
 */
import type { RateLimiter } from '../storage/index.js';
import { equalBytes, toHex } from '../util/bytes.js';
import { toTesseraError } from '../util/errors.js';
import { leafIntervals, MerkleTree } from './merkle.js';
import { rawRowBytes } from './range-data.js';
import {
  type Interval,
  intersectIntervals,
  mergeIntervals,
  type RangeTransport,
} from './streaming.js';
import { rangeIntervals, type TokenRange } from './token-ranges.js';

export interface RepairGroup {
  /** The replica set, in preference order. */
  readonly replicas: readonly string[];
  /** The primary ranges it replicates. */
  readonly ranges: readonly TokenRange[];
}

/** What a repair did, as `tessera repair` and `ring.describe` report it. */
export interface RepairStats {
  groups: number;
  groupsDone: number;
  /** Groups compared without all their replicas (one was down or failed). */
  groupsIncomplete: number;
  leavesCompared: number;
  leavesDiffering: number;
  /** Rows and bytes the replicas read to build trees: the data compared. */
  rowsCompared: number;
  bytesCompared: number;
  /** Rows and bytes streamed (each page counted once per source). */
  rowsStreamed: number;
  bytesStreamed: number;
  /** Why groups were incomplete, one line each (bounded). */
  errors: string[];
}

export function emptyRepairStats(): RepairStats {
  return {
    groups: 0,
    groupsDone: 0,
    groupsIncomplete: 0,
    leavesCompared: 0,
    leavesDiffering: 0,
    rowsCompared: 0,
    bytesCompared: 0,
    rowsStreamed: 0,
    bytesStreamed: 0,
    errors: [],
  };
}

const errorsKept = 20;

function noteError(stats: RepairStats, line: string): void {
  if (stats.errors.length < errorsKept) stats.errors.push(line);
}

export interface RepairOptions {
  readonly depth: number;
  /** The instant every replica resolves its rows at (wall-clock micros). */
  readonly nowMicros: number;
  readonly isAlive: (endpoint: string) => boolean;
  readonly limiter?: RateLimiter;
  /** Called as work is done, for progress. */
  readonly onProgress?: (stats: RepairStats) => void;
}

/** Repairs the groups of one table; resolves with what it did (errors are in the stats). */
export async function repairTable(
  transport: RangeTransport,
  table: string,
  groups: readonly RepairGroup[],
  options: RepairOptions,
  stats: RepairStats = emptyRepairStats(),
): Promise<RepairStats> {
  stats.groups += groups.length;
  const intervals = groups.map((g) => mergeIntervals(rangeIntervals(g.ranges)));
  // Each live endpoint's groups, in the order its trees come back.
  const byEndpoint = new Map<string, number[]>();
  const missing = new Set<number>();
  groups.forEach((g, gi) => {
    for (const e of g.replicas) {
      if (!options.isAlive(e)) {
        missing.add(gi);
        continue;
      }
      let list = byEndpoint.get(e);
      if (list === undefined) byEndpoint.set(e, (list = []));
      list.push(gi);
    }
  });
  // Trees: one scan per endpoint, all its groups at once.
  const trees = new Map<string, MerkleTree>(); // `${endpoint}\n${group}`
  await Promise.all(
    [...byEndpoint].map(async ([endpoint, gs]) => {
      try {
        const reply = await transport.leaves(endpoint, table, {
          intervals: gs.flatMap((gi, local) =>
            intervals[gi]!.map((iv) => ({ ...iv, group: local })),
          ),
          groups: gs.length,
          depth: options.depth,
          nowMicros: options.nowMicros,
        });
        stats.rowsCompared += reply.rows;
        stats.bytesCompared += reply.bytes;
        gs.forEach((gi, local) => {
          trees.set(
            `${endpoint}\n${gi}`,
            MerkleTree.fromLeaves(options.depth, reply.leaves[local]!),
          );
        });
      } catch (err) {
        for (const gi of gs) missing.add(gi);
        noteError(stats, `${table}: ${endpoint} built no tree: ${toTesseraError(err).message}`);
      }
    }),
  );
  // Differences per pair of endpoints, over every group they share.
  const pairs = new Map<string, { a: string; b: string; intervals: Interval[] }>();
  groups.forEach((g, gi) => {
    const have = g.replicas.filter((e) => trees.has(`${e}\n${gi}`));
    for (let i = 0; i < have.length; i++) {
      for (let j = i + 1; j < have.length; j++) {
        const [a, b] = [have[i]!, have[j]!].sort();
        const ta = trees.get(`${a}\n${gi}`)!;
        const tb = trees.get(`${b}\n${gi}`)!;
        stats.leavesCompared += 1 << options.depth;
        const leaves = ta.differingLeaves(tb);
        if (leaves.length === 0) continue;
        stats.leavesDiffering += leaves.length;
        const where = intersectIntervals(leafIntervals(leaves, options.depth), intervals[gi]!);
        const key = `${a}\n${b}`;
        let p = pairs.get(key);
        if (p === undefined) pairs.set(key, (p = { a: a!, b: b!, intervals: [] }));
        p.intervals.push(...where);
      }
    }
  });
  options.onProgress?.(stats);
  // Between each differing pair, row by row under the differing leaves: each side sends the
  // rows the other lacks or holds differently. Pairs in turn, so a repair's load on any one
  // node stays bounded.
  const failed: [string, string][] = [];
  for (const p of pairs.values()) {
    const where = mergeIntervals(p.intervals);
    try {
      await syncPair(transport, table, p.a, p.b, where, options, stats);
    } catch (err) {
      failed.push([p.a, p.b]);
      noteError(
        stats,
        `${table}: syncing ${p.a} and ${p.b} failed: ${toTesseraError(err).message}`,
      );
    }
  }
  groups.forEach((g, gi) => {
    const broken = failed.some(([a, b]) => g.replicas.includes(a) && g.replicas.includes(b));
    if (missing.has(gi) || broken) stats.groupsIncomplete++;
    stats.groupsDone++;
  });
  options.onProgress?.(stats);
  return stats;
}

/** Rows of row digests asked for per page, and rows fetched per request. */
const DIGEST_PAGE_ROWS = 10_000;
const FETCH_ROWS = 256;

/** Every row of the endpoint in the intervals with its digest, by row key (hex). */
async function allDigests(
  transport: RangeTransport,
  endpoint: string,
  table: string,
  where: readonly Interval[],
  nowMicros: number,
): Promise<Map<string, { row: Uint8Array; digest: Uint8Array }>> {
  const out = new Map<string, { row: Uint8Array; digest: Uint8Array }>();
  let after: Uint8Array | undefined;
  for (;;) {
    const page = await transport.digests(
      endpoint,
      table,
      where,
      after,
      DIGEST_PAGE_ROWS,
      nowMicros,
    );
    for (const r of page.rows) out.set(toHex(r.row), r);
    if (page.next === undefined) return out;
    after = page.next;
  }
}

/**
 * Brings two replicas in step over `where` (Cassandra's differencing, but per row, not per
 * range): both list their rows there with digests, and each sends the other, as raw entries,
 * the rows the other lacks or holds differently. A differing leaf of a big table holds many
 * rows that agree; they stay put. Applying merges by timestamp, so both end with the union.
 */
async function syncPair(
  transport: RangeTransport,
  table: string,
  a: string,
  b: string,
  where: readonly Interval[],
  options: RepairOptions,
  stats: RepairStats,
): Promise<void> {
  const [da, db] = await Promise.all([
    allDigests(transport, a, table, where, options.nowMicros),
    allDigests(transport, b, table, where, options.nowMicros),
  ]);
  const differing = (mine: typeof da, theirs: typeof da): Uint8Array[] => {
    const keys: Uint8Array[] = [];
    for (const [k, r] of mine) {
      const t = theirs.get(k);
      if (t === undefined || !equalBytes(t.digest, r.digest)) keys.push(r.row);
    }
    return keys;
  };
  for (const [from, to, keys] of [
    [a, b, differing(da, db)],
    [b, a, differing(db, da)],
  ] as const) {
    for (let i = 0; i < keys.length; i += FETCH_ROWS) {
      const rows = await transport.fetch(from, table, keys.slice(i, i + FETCH_ROWS));
      if (rows.length === 0) continue;
      let bytes = 0;
      for (const r of rows) bytes += rawRowBytes(r.row, r.entries);
      await options.limiter?.acquire(bytes);
      await transport.apply(to, table, rows);
      stats.rowsStreamed += rows.length;
      stats.bytesStreamed += bytes;
      options.onProgress?.(stats);
    }
  }
}
