/**
 * Token ranges: the unit in which anti-entropy repair compares replicas and in which bootstrap
 * and decommission stream rows.
 *
 * A range is Cassandra's half-open `(start, end]` on the circle of signed 64-bit tokens: the
 * tokens after `start` up to and including `end`, wrapping from TOKEN_MAX to TOKEN_MIN when
 * `start >= end`. `start === end` is the whole ring, as a ring of one token owns everything
 * (TokenRing.rangeWidth). This matches the ring itself, where the endpoint holding `tokens[i]`
 * owns (tokens[i - 1], tokens[i]], so a range never needs an "inclusive start" flag.
 *
 * Wrapping ranges are convenient to produce (they come straight from the ring) but awkward to
 * test a token against, so `RangeSet` turns any list of them into sorted, merged, closed
 * intervals [lo, hi] that never wrap; `contains` is then one binary search, cheap enough to run
 * for every stored row of a repair scan.
 *
 * The rest is derived from the ring and a replication strategy (replication.ts):
 * `replicaRanges` lists each primary range with its replicas, and `rangeChanges` compares two
 * rings range by range, which gives what a joining node must fetch (`movedRanges`) and what a
 * leaving node must hand over (`leavingRanges`).
 */
import { assert } from '../util/assert.js';
import { invalidArgument } from '../util/errors.js';
import { TOKEN_MAX, TOKEN_MIN } from './murmur3.js';
import { replicasFor, type ReplicationStrategy } from './replication.js';
import type { TokenRing } from './token-ring.js';

/** (start, end] on the token circle; wraps when start >= end; start === end is every token. */
export interface TokenRange {
  readonly start: bigint;
  readonly end: bigint;
}

/** A closed, non-wrapping interval of tokens, lo <= hi. */
export interface TokenInterval {
  readonly lo: bigint;
  readonly hi: bigint;
}

/** A primary range of a ring with its replicas, in preference order. */
export interface ReplicaRange {
  readonly range: TokenRange;
  readonly replicas: readonly string[];
}

/** Ranges sharing one replica set; `replicas` sorted (by UTF-16 code units). */
export interface ReplicaGroup {
  readonly replicas: readonly string[];
  readonly ranges: TokenRange[];
}

/** How the replicas of one range differ between two rings (see `rangeChanges`). */
export interface RangeChange {
  readonly range: TokenRange;
  /** The replicas before, in preference order: the nodes that hold the range's rows. */
  readonly sources: readonly string[];
  /** The replicas after, in preference order. */
  readonly replicas: readonly string[];
  /** Replicas after that were not replicas before, in `replicas` order. */
  readonly gained: readonly string[];
  /** Replicas before that are not replicas after, in `sources` order. */
  readonly lost: readonly string[];
}

/**
 * Upper bound on the ranges one RPC message may carry. A node replicates about
 * vnodes x RF ranges (192 at the defaults), and even 100 nodes x 1024 vnodes split by a second
 * ring stay well below this; the bound only stops a malformed message from costing memory.
 */
export const RANGES_PER_MESSAGE_MAX = 1 << 16;

/** The number of tokens on the ring, 2^64. */
const tokenSpace = 1n << 64n;

/** A canonical signed decimal: no sign on zero, no leading zeros, no '+', at most 19 digits. */
const decimalToken = /^(0|-?[1-9][0-9]{0,18})$/;

/** True when `token` lies in `range`. */
export function rangeContains(range: TokenRange, token: bigint): boolean {
  const { start, end } = range;
  if (start < end) return token > start && token <= end;
  if (start === end) return true;
  return token > start || token <= end;
}

/** The number of tokens in `range`: (end - start) mod 2^64, or 2^64 for the whole ring. */
export function rangeSize(range: TokenRange): bigint {
  const { start, end } = range;
  return start < end ? end - start : end - start + tokenSpace;
}

/**
 * The tokens of `ranges` as sorted, disjoint, non-adjacent closed intervals (a wrapping range
 * gives two): the form scans and streaming requests use. INVALID_ARGUMENT on a bad token.
 */
export function rangeIntervals(ranges: readonly TokenRange[]): TokenInterval[] {
  return [...new RangeSet(ranges).intervals];
}

/**
 * A set of tokens given as ranges, held as sorted, disjoint, non-adjacent closed intervals.
 * Immutable.
 */
export class RangeSet {
  /** Interval i is [los[i], his[i]]; his[i] + 1 < los[i + 1]. */
  private readonly los: readonly bigint[];
  private readonly his: readonly bigint[];

  /** Normalizes `ranges` (any order, may overlap or wrap); INVALID_ARGUMENT on a bad token. */
  constructor(ranges: readonly TokenRange[]) {
    const intervals: TokenInterval[] = [];
    for (const range of ranges) {
      checkToken(range.start);
      checkToken(range.end);
      intervals.push(...intervalsOf(range));
    }
    const [los, his] = normalize(intervals);
    this.los = los;
    this.his = his;
  }

  /** The set of the closed intervals given (any order, may overlap); lo > hi is INVALID_ARGUMENT. */
  static fromIntervals(intervals: readonly TokenInterval[]): RangeSet {
    const ranges = intervals.map(({ lo, hi }): TokenRange => {
      checkToken(lo);
      checkToken(hi);
      if (lo > hi) throw invalidArgument(`interval [${lo}, ${hi}] has lo > hi`);
      return rangeOfInterval(lo, hi);
    });
    return new RangeSet(ranges);
  }

  /** Every token. */
  static all(): RangeSet {
    return new RangeSet([{ start: TOKEN_MIN, end: TOKEN_MIN }]);
  }

  /**
   * True when `token` is in the set: a binary search over the intervals, no allocation. Runs
   * once per stored row during a repair scan.
   */
  contains(token: bigint): boolean {
    const los = this.los;
    // The last interval whose lo <= token.
    let lo = 0;
    let hi = los.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (los[mid]! <= token) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && token <= this.his[lo - 1]!;
  }

  /** True when the set shares a token with the closed interval [lo, hi] (lo <= hi). */
  intersects(lo: bigint, hi: bigint): boolean {
    if (lo > hi) throw invalidArgument(`interval [${lo}, ${hi}] has lo > hi`);
    // The first interval whose hi >= lo; it intersects when it starts by `hi`.
    const his = this.his;
    let a = 0;
    let b = his.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (his[mid]! < lo) a = mid + 1;
      else b = mid;
    }
    return a < his.length && this.los[a]! <= hi;
  }

  /** The tokens in both sets. */
  intersect(other: RangeSet): RangeSet {
    const out: TokenInterval[] = [];
    let i = 0;
    let j = 0;
    while (i < this.los.length && j < other.los.length) {
      const lo = max(this.los[i]!, other.los[j]!);
      const hi = min(this.his[i]!, other.his[j]!);
      if (lo <= hi) out.push({ lo, hi });
      if (this.his[i]! < other.his[j]!) i++;
      else j++;
    }
    return RangeSet.fromIntervals(out);
  }

  /** The sorted, disjoint, non-adjacent closed intervals of the set. */
  get intervals(): readonly TokenInterval[] {
    return this.los.map((lo, i) => ({ lo, hi: this.his[i]! }));
  }

  /** The set as (start, end] ranges, one per interval ([lo, hi] is (lo - 1, hi], wrapping at TOKEN_MIN). */
  toRanges(): TokenRange[] {
    return this.los.map((lo, i) => rangeOfInterval(lo, this.his[i]!));
  }

  /** The number of tokens covered, up to 2^64. */
  get size(): bigint {
    let total = 0n;
    for (let i = 0; i < this.los.length; i++) total += this.his[i]! - this.los[i]! + 1n;
    return total;
  }

  get isEmpty(): boolean {
    return this.los.length === 0;
  }
}

/**
 * Ranges as JSON-safe values for RPC: `[start, end]` pairs of decimal strings (JSON has no
 * 64-bit integers, and a double would round the tokens).
 */
export function encodeRanges(ranges: readonly TokenRange[]): string[][] {
  if (ranges.length > RANGES_PER_MESSAGE_MAX) {
    throw invalidArgument(`${ranges.length} ranges are more than ${RANGES_PER_MESSAGE_MAX}`);
  }
  return ranges.map((r) => {
    checkToken(r.start);
    checkToken(r.end);
    return [r.start.toString(), r.end.toString()];
  });
}

/**
 * The inverse of `encodeRanges`, for a value that arrived from the network: INVALID_ARGUMENT
 * unless it is an array of at most RANGES_PER_MESSAGE_MAX pairs of canonical decimal strings
 * within the signed 64-bit range.
 */
export function decodeRanges(value: unknown): TokenRange[] {
  if (!Array.isArray(value)) throw invalidArgument('token ranges must be an array');
  if (value.length > RANGES_PER_MESSAGE_MAX) {
    throw invalidArgument(`${value.length} token ranges are more than ${RANGES_PER_MESSAGE_MAX}`);
  }
  return value.map((pair: unknown, i) => {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw invalidArgument(`token range ${i} must be a [start, end] pair`, { index: i });
    }
    return { start: decodeToken(pair[0], i), end: decodeToken(pair[1], i) };
  });
}

function decodeToken(value: unknown, index: number): bigint {
  if (typeof value !== 'string' || !decimalToken.test(value)) {
    throw invalidArgument(`token range ${index} holds a token that is not a decimal string`, {
      index,
    });
  }
  const token = BigInt(value);
  if (token < TOKEN_MIN || token > TOKEN_MAX) {
    throw invalidArgument(`token range ${index} holds a token outside the signed 64-bit range`, {
      index,
      token: value,
    });
  }
  return token;
}

/**
 * Each primary range of the ring, (tokenAt(i - 1), tokenAt(i)], in token order, with its
 * replicas under `strategy`. The ranges cover the ring exactly once; an empty ring has none,
 * and a ring of one token has the one range (t, t], the whole ring.
 */
export function replicaRanges(ring: TokenRing, strategy: ReplicationStrategy): ReplicaRange[] {
  const out: ReplicaRange[] = [];
  for (let i = 0; i < ring.size; i++) {
    const end = ring.tokenAt(i);
    const start = ring.tokenAt(i === 0 ? ring.size - 1 : i - 1);
    out.push({ range: { start, end }, replicas: replicasFor(ring, end, strategy) });
  }
  return out;
}

/** The primary ranges of `ring` that `node` holds a replica of, in token order (not merged). */
export function rangesOf(
  ring: TokenRing,
  strategy: ReplicationStrategy,
  node: string,
): TokenRange[] {
  return replicaRanges(ring, strategy)
    .filter((r) => r.replicas.includes(node))
    .map((r) => r.range);
}

/**
 * Ranges grouped by their replica set, keyed by the JSON of the sorted ids: repair compares
 * the replicas of each set once over all of its ranges, rather than once per range.
 */
export function groupByReplicas(ranges: readonly ReplicaRange[]): Map<string, ReplicaGroup> {
  const groups = new Map<string, ReplicaGroup>();
  for (const { range, replicas } of ranges) {
    const sorted = [...replicas].sort(compareIds);
    const key = JSON.stringify(sorted);
    let group = groups.get(key);
    if (group === undefined) {
      group = { replicas: Object.freeze(sorted), ranges: [] };
      groups.set(key, group);
    }
    group.ranges.push(range);
  }
  return groups;
}

/**
 * The ranges whose replica set differs between `before` and `after`, with who gained and who
 * lost each. The ring is cut at every token of either ring, so each piece has one replica list
 * in each ring; neighbouring pieces with the same two lists are joined again, so a change that
 * a token of the other ring merely crosses is one range. Ranges whose set is unchanged (even if
 * the preference order changed) are left out. In token order, except that a range wrapping
 * past TOKEN_MAX may come first or last.
 */
export function rangeChanges(
  before: TokenRing,
  after: TokenRing,
  strategy: ReplicationStrategy,
): RangeChange[] {
  const cuts = unionTokens(before, after);
  if (cuts.length === 0) return [];
  const pieces = cuts.map((end) => ({
    end,
    sources: replicasFor(before, end, strategy),
    replicas: replicasFor(after, end, strategy),
  }));
  const same = (a: (typeof pieces)[0], b: (typeof pieces)[0]): boolean =>
    sameList(a.sources, b.sources) && sameList(a.replicas, b.replicas);
  const n = pieces.length;
  // Start at a piece that does not continue its predecessor, so no run is cut by the wrap.
  let first = 0;
  while (first < n && same(pieces[(first + n - 1) % n]!, pieces[first]!)) first++;
  if (first === n) {
    // One list pair everywhere: a single run, the whole ring.
    const only = pieces[0]!;
    const whole = { start: only.end, end: only.end };
    const change = changeOf(whole, only.sources, only.replicas);
    return change === undefined ? [] : [change];
  }
  const out: RangeChange[] = [];
  let runStart = (first + n - 1) % n; // The run's range starts at the previous piece's end.
  for (let k = 0; k < n; k++) {
    const i = (first + k) % n;
    const next = (i + 1) % n;
    if (k === n - 1 || !same(pieces[i]!, pieces[next]!)) {
      const piece = pieces[i]!;
      const change = changeOf(
        { start: pieces[runStart]!.end, end: piece.end },
        piece.sources,
        piece.replicas,
      );
      if (change !== undefined) out.push(change);
      runStart = i;
    }
  }
  return out;
}

/**
 * What a node joining (or otherwise gaining ranges) must stream: the ranges it replicates in
 * `after` but not in `before`, each with the replicas that held it in `before`, in preference
 * order. `sources` is empty for a range nobody held (the first node of a ring).
 */
export function movedRanges(
  before: TokenRing,
  after: TokenRing,
  strategy: ReplicationStrategy,
  node: string,
): { range: TokenRange; sources: readonly string[] }[] {
  return rangeChanges(before, after, strategy)
    .filter((c) => c.gained.includes(node))
    .map((c) => ({ range: c.range, sources: c.sources }));
}

/**
 * What a node leaving (or otherwise losing ranges) must hand over: the ranges it replicates in
 * `before` but not in `after`, each with the replicas in `after` that did not hold it. `targets`
 * is empty when nobody takes its place (fewer endpoints than the replication factor).
 */
export function leavingRanges(
  before: TokenRing,
  after: TokenRing,
  strategy: ReplicationStrategy,
  node: string,
): { range: TokenRange; targets: readonly string[] }[] {
  return rangeChanges(before, after, strategy)
    .filter((c) => c.lost.includes(node))
    .map((c) => ({ range: c.range, targets: c.gained }));
}

// ---------------------------------------------------------------------------------------------

function changeOf(
  range: TokenRange,
  sources: readonly string[],
  replicas: readonly string[],
): RangeChange | undefined {
  const gained = replicas.filter((id) => !sources.includes(id));
  const lost = sources.filter((id) => !replicas.includes(id));
  if (gained.length === 0 && lost.length === 0) return undefined;
  return { range, sources, replicas, gained, lost };
}

/** Every token of either ring, ascending, each once. */
function unionTokens(a: TokenRing, b: TokenRing): bigint[] {
  const out: bigint[] = [];
  let i = 0;
  let j = 0;
  while (i < a.size || j < b.size) {
    const x = i < a.size ? a.tokenAt(i) : undefined;
    const y = j < b.size ? b.tokenAt(j) : undefined;
    let next: bigint;
    if (y === undefined || (x !== undefined && x <= y)) {
      next = x!;
      i++;
      if (y === next) j++;
    } else {
      next = y;
      j++;
    }
    out.push(next);
  }
  return out;
}

/** [lo, hi] as the range (lo - 1, hi]; at lo = TOKEN_MIN that is (TOKEN_MAX, hi], which wraps. */
function rangeOfInterval(lo: bigint, hi: bigint): TokenRange {
  return { start: lo === TOKEN_MIN ? TOKEN_MAX : lo - 1n, end: hi };
}

/** The closed intervals of a valid range: one, or two when it wraps past TOKEN_MAX. */
function intervalsOf(range: TokenRange): TokenInterval[] {
  const { start, end } = range;
  if (start < end) return [{ lo: start + 1n, hi: end }];
  if (start === end) return [{ lo: TOKEN_MIN, hi: TOKEN_MAX }];
  const out: TokenInterval[] = [{ lo: TOKEN_MIN, hi: end }];
  if (start < TOKEN_MAX) out.push({ lo: start + 1n, hi: TOKEN_MAX });
  return out;
}

/** Sorts and merges overlapping or adjacent intervals into parallel lo / hi arrays. */
function normalize(intervals: readonly TokenInterval[]): [bigint[], bigint[]] {
  const sorted = [...intervals].sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  const los: bigint[] = [];
  const his: bigint[] = [];
  for (const { lo, hi } of sorted) {
    const last = his.length - 1;
    if (last >= 0 && lo <= his[last]! + 1n) {
      if (hi > his[last]!) his[last] = hi;
    } else {
      los.push(lo);
      his.push(hi);
    }
  }
  for (let i = 1; i < los.length; i++) assert(his[i - 1]! + 1n < los[i]!, 'RangeSet: not merged');
  return [los, his];
}

function checkToken(token: bigint): void {
  if (typeof token !== 'bigint' || token < TOKEN_MIN || token > TOKEN_MAX) {
    throw invalidArgument(`token ${String(token)} is outside the signed 64-bit range`);
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
