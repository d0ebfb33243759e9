/**
 * Streaming: moving a hashed table's rows in some token intervals from one replica to others,
 * a page at a time — what repair sends where replicas differ, what a joining node receives and
 * what a leaving node hands over.
 *
 * The source reads a page of raw rows (puts and tombstones, range-data.ts) and the targets
 * apply it; applying merges into what a target holds, and entries carry their timestamps, so
 * streaming a row twice or to a replica that has part of it is harmless. Pages are bounded in
 * bytes, so a large range never sits whole in the coordinator's memory, and a rate limiter
 * (the storage engine's token bucket) keeps background streaming from taking the disk and
 * network from foreground requests.
 */
import type { RateLimiter } from '../storage/index.js';
import type { DigestsPage, RawRow, RowsPage } from './range-data.js';

/** An inclusive token interval [lo, hi]. */
export interface Interval {
  readonly lo: bigint;
  readonly hi: bigint;
}

/** How a coordinator of repair or streaming reaches the replicas (itself in-process). */
export interface RangeTransport {
  /** Per group, the endpoint's Merkle leaves of its rows in that group's intervals. */
  leaves(
    endpoint: string,
    table: string,
    request: {
      readonly intervals: readonly (Interval & { readonly group: number })[];
      readonly groups: number;
      readonly depth: number;
      readonly nowMicros: number;
    },
  ): Promise<{ leaves: Uint8Array[]; rows: number; bytes: number }>;
  /** A page of the endpoint's raw rows in the intervals, after `after`. */
  rows(
    endpoint: string,
    table: string,
    intervals: readonly Interval[],
    after: Uint8Array | undefined,
    maxBytes: number,
  ): Promise<RowsPage>;
  /** Applies streamed rows on the endpoint. */
  apply(endpoint: string, table: string, rows: readonly RawRow[]): Promise<void>;
  /** A page of the endpoint's rows in the intervals with their digests (range-data.ts). */
  digests(
    endpoint: string,
    table: string,
    intervals: readonly Interval[],
    after: Uint8Array | undefined,
    maxRows: number,
    nowMicros: number,
  ): Promise<DigestsPage>;
  /** The endpoint's raw rows of `keys` (those it holds anything of). */
  fetch(endpoint: string, table: string, keys: readonly Uint8Array[]): Promise<RawRow[]>;
}

/** Bytes of raw rows per streamed page. */
export const STREAM_PAGE_BYTES = 1 << 20;

export interface StreamStats {
  rows: number;
  bytes: number;
}

/** Sorts and merges intervals that overlap or touch. */
export function mergeIntervals(list: readonly Interval[]): Interval[] {
  const sorted = [...list].sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  const out: { lo: bigint; hi: bigint }[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && r.lo <= last.hi + 1n) {
      if (r.hi > last.hi) last.hi = r.hi;
    } else out.push({ lo: r.lo, hi: r.hi });
  }
  return out;
}

/** The parts of `a` inside `b`; both sorted and disjoint. */
export function intersectIntervals(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const lo = a[i]!.lo > b[j]!.lo ? a[i]!.lo : b[j]!.lo;
    const hi = a[i]!.hi < b[j]!.hi ? a[i]!.hi : b[j]!.hi;
    if (lo <= hi) out.push({ lo, hi });
    if (a[i]!.hi < b[j]!.hi) i++;
    else j++;
  }
  return out;
}

/**
 * Streams the source's rows in `intervals` to every target, page by page; resolves with what
 * was sent (counted once, however many targets). Rejects when a page cannot be read or
 * applied: the caller reports it, and whatever was applied stays (it is correct data).
 */
export async function streamIntervals(
  transport: RangeTransport,
  table: string,
  source: string,
  targets: readonly string[],
  intervals: readonly Interval[],
  options: {
    readonly limiter?: RateLimiter;
    readonly pageBytes?: number;
    readonly onPage?: (rows: number, bytes: number) => void;
  } = {},
): Promise<StreamStats> {
  const stats: StreamStats = { rows: 0, bytes: 0 };
  if (intervals.length === 0 || targets.length === 0) return stats;
  let after: Uint8Array | undefined;
  for (;;) {
    const page = await transport.rows(
      source,
      table,
      intervals,
      after,
      options.pageBytes ?? STREAM_PAGE_BYTES,
    );
    if (page.rows.length > 0) {
      await options.limiter?.acquire(page.bytes);
      await Promise.all(targets.map((t) => transport.apply(t, table, page.rows)));
      stats.rows += page.rows.length;
      stats.bytes += page.bytes;
      options.onPage?.(page.rows.length, page.bytes);
    }
    if (page.next === undefined) return stats;
    after = page.next;
  }
}
