/**
 * Range movements: the streaming that moves replicas when the ring changes — a node joining
 * (bootstrap), a node leaving (decommission), a dead node removed (removenode). Each compares
 * the ring before with the ring after (token-ranges.ts's rangeChanges) and streams, per hashed
 * table, exactly the ranges whose replica set changes, from the nodes that hold them to the
 * nodes that gain them.
 *
 * Where a joining node streams from: the replica that LOSES the range, when it is up
 * (Cassandra's consistent range movement). The new replica set is then the old one with the
 * loser's copy moved to the joiner, so every write acknowledged by a quorum of the old set is
 * still held by a quorum of the new one. Streaming from another replica could move a copy that
 * missed the write into the new set while the one that had it drops out. When the loser is
 * down, every live old replica streams (their union holds every quorum write).
 *
 * A removed node's copies are gone, so its ranges' new replicas stream from every surviving
 * old replica, again for the union.
 *
 * While a movement runs, coordinators also write to the nodes gaining ranges (the pending
 * ring, membership.ts), so nothing written during the streaming is missed. Streams are
 * idempotent (rows merge by timestamp), so a failed movement is simply run again.
 */
import type { Env } from '../env/index.js';
import type { TableSchema } from '../model/index.js';
import type { RateLimiter } from '../storage/index.js';
import { strategyOf } from './coordinator.js';
import {
  mergeIntervals,
  type Interval,
  type RangeTransport,
  streamIntervals,
} from './streaming.js';
import { rangeChanges, rangeIntervals, type RangeChange } from './token-ranges.js';
import type { TokenRing } from './token-ring.js';

/** What a movement needs of its node. */
export interface MovementHost {
  readonly env: Env;
  readonly transport: RangeTransport;
  /** The hashed tables to move. */
  tables(): readonly TableSchema[];
  isAlive(id: string): boolean;
  readonly limiter?: RateLimiter;
  /** Reports progress, for people (gossiped to `tessera ring`). */
  progress(text: string): void;
}

/** For one changed range: who streams it to whom; undefined to leave it. */
export type MovementPlan = (
  change: RangeChange,
) => { readonly sources: readonly string[]; readonly targets: readonly string[] } | undefined;

export interface MovementStats {
  streams: number;
  rows: number;
  bytes: number;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

/**
 * Streams every changed range of every hashed table as `plan` says. Rejects with the first
 * stream that fails (after the others of its table ran); what was streamed stays.
 */
export async function moveRanges(
  host: MovementHost,
  label: string,
  before: TokenRing,
  after: TokenRing,
  plan: MovementPlan,
): Promise<MovementStats> {
  const stats: MovementStats = { streams: 0, rows: 0, bytes: 0 };
  const tables = host.tables();
  const work: { table: string; source: string; targets: string[]; intervals: Interval[] }[] = [];
  for (const schema of tables) {
    // Per (source, targets): the intervals it sends them.
    const bySource = new Map<
      string,
      { source: string; targets: string[]; intervals: Interval[] }
    >();
    for (const change of rangeChanges(before, after, strategyOf(schema))) {
      const p = plan(change);
      if (p === undefined || p.targets.length === 0) continue;
      for (const source of p.sources) {
        const key = `${source}\n${[...p.targets].sort().join(',')}`;
        let w = bySource.get(key);
        if (w === undefined)
          bySource.set(key, (w = { source, targets: [...p.targets], intervals: [] }));
        w.intervals.push(...rangeIntervals([change.range]));
      }
    }
    for (const w of bySource.values()) {
      work.push({ table: schema.name, ...w, intervals: mergeIntervals(w.intervals) });
    }
  }
  let done = 0;
  const report = () =>
    host.progress(`${label}: ${done}/${work.length} streams, ${megabytes(stats.bytes)}`);
  report();
  for (const w of work) {
    await streamIntervals(host.transport, w.table, w.source, w.targets, w.intervals, {
      ...(host.limiter === undefined ? {} : { limiter: host.limiter }),
      onPage: (rows, bytes) => {
        stats.rows += rows;
        stats.bytes += bytes;
        report();
      },
    });
    stats.streams++;
    done++;
    report();
  }
  return stats;
}

/** Bootstrap: `self` joins; it streams what it gains, from the losers (see header). */
export function bootstrapPlan(host: MovementHost, self: string): MovementPlan {
  return (c) => {
    if (!c.gained.includes(self)) return undefined;
    const loser = c.lost.find((id) => id !== self && host.isAlive(id));
    const sources =
      loser !== undefined ? [loser] : c.sources.filter((id) => id !== self && host.isAlive(id));
    return { sources, targets: [self] };
  };
}

/**
 * Decommission: `self` leaves; it hands each range it loses to the replicas that gain it —
 * all of them: a gaining node that is down fails the decommission (the node stays, back to
 * normal) rather than leave that range one copy short.
 */
export function decommissionPlan(self: string): MovementPlan {
  return (c) => (c.lost.includes(self) ? { sources: [self], targets: c.gained } : undefined);
}

/** Removenode: `dead` is gone; its ranges' new replicas stream from every survivor. */
export function removePlan(host: MovementHost, dead: string): MovementPlan {
  return (c) =>
    c.lost.includes(dead)
      ? {
          sources: c.sources.filter((id) => id !== dead && host.isAlive(id)),
          targets: c.gained.filter((id) => host.isAlive(id)),
        }
      : undefined;
}
