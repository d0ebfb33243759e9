/**
 * Tokens for a node joining a ring that already holds data, chosen so that it takes its fair
 * share: 1/(N+1) of the token space as primary owner and, since every range has RF replicas,
 * about RF/(N+1) of the data as a replica, which is what bootstrap streams to it.
 *
 * Random tokens (`randomTokens`) are fine for a new, empty cluster but poor for a join: with 64
 * vnodes the newcomer's share is a sum of 64 random gaps and is off by ~12% either way, and it
 * takes its data from whichever nodes its tokens happen to land by, not from the most loaded.
 * Cassandra answers this with a load-aware allocator (`allocate_tokens_for_local_replication_
 * factor`); this is a smaller greedy one in the same spirit.
 *
 * The algorithm places the tokens one at a time. Each token takes a slice of `remaining
 * primary target / tokens left` (so the primary share comes out at the target to within
 * rounding) off the start of some range (prev, t]: the new token is prev + slice, the newcomer
 * owns (prev, prev + slice] and the range's owner keeps the rest. Which range is a scored
 * choice over all of them:
 *
 * - Balance. The slices should come from the most loaded nodes. The "water level" L is the
 *   share at which taking everything above L from the nodes over it yields exactly the target
 *   (Σ max(0, own_i − L) = target); a node's excess is own_i − L. Taking a slice larger than
 *   the owner's excess is penalized by the shortfall, so nodes below the level are used only
 *   when nothing better exists. Water-filling never raises the largest share above
 *   max × N/(N+1), so the ring's balance (max ÷ mean) does not get worse (up to one slice).
 * - Replicated share. A token at x makes the newcomer a replica not only of (prev, x] but of the
 *   ranges before it, back to where RF − 1 other distinct nodes have been met: those ranges'
 *   preference lists now reach x. With tokens placed at random that adds about RF − 1 average
 *   gaps per token, which overshoots RF/(N+1) by (RF − 1)/N − (RF − 1)/(N+1), 22% for N = 3. So
 *   each candidate's exact gain in replicated share (not counting ranges already covered by the
 *   newcomer's earlier tokens) is compared with `remaining replicated target / tokens left`.
 *
 * The score is |replicated gain − wanted| + (slice beyond the owner's excess) + (slice short of
 * wanted), all in tokens; the lowest wins, ties to the lowest ring index, so the result is a
 * function of the ring alone. The replicated part uses the simple strategy's walk over every
 * endpoint of `ring`: for NetworkTopologyStrategy pass the ring of the joining node's datacenter
 * and that datacenter's factor (racks are not considered).
 *
 * Cost: each token rescans the ring, O(ring size x RF) — about 6,400 x 4 steps on 100 nodes of
 * 64 vnodes, so a join allocates its 64 tokens in well under a second, once.
 */
import { assert } from '../util/assert.js';
import { invalidArgument } from '../util/errors.js';
import { REPLICATION_FACTOR_MAX } from './replication.js';
import { TOKEN_MAX, TOKEN_MIN, VNODES_MAX, type TokenRing } from './token-ring.js';

export interface AllocationOptions {
  /** The replication factor whose replicated share to balance; default 3. */
  readonly replicationFactor?: number;
}

/** Cassandra's usual factor, and Tessera's default for hashed tables. */
export const ALLOCATION_REPLICATION_FACTOR_DEFAULT = 3;

const tokenSpace = 1n << 64n;

/**
 * `vnodes` new distinct tokens, ascending, for a node joining `ring` (which must not include
 * it). Deterministic. On an empty ring: evenly spaced tokens.
 */
export function allocateTokens(
  ring: TokenRing,
  vnodes: number,
  options: AllocationOptions = {},
): bigint[] {
  const rf = options.replicationFactor ?? ALLOCATION_REPLICATION_FACTOR_DEFAULT;
  if (!Number.isInteger(vnodes) || vnodes < 1 || vnodes > VNODES_MAX) {
    throw invalidArgument(`token count must be an integer in [1, ${VNODES_MAX}], got ${vnodes}`, {
      vnodes,
    });
  }
  if (!Number.isInteger(rf) || rf < 1 || rf > REPLICATION_FACTOR_MAX) {
    throw invalidArgument(
      `replication factor must be an integer in [1, ${REPLICATION_FACTOR_MAX}], got ${rf}`,
      { replicationFactor: rf },
    );
  }
  if (ring.size === 0) return evenTokens(vnodes);
  const state = new Allocation(ring, rf);
  const placed: bigint[] = [];
  for (let left = vnodes; left > 0; left--) placed.push(state.placeOne(left));
  placed.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  assert(new Set(placed).size === vnodes, 'allocateTokens: a token was placed twice');
  return placed;
}

/** Tokens at the middles of `count` equal slices of the ring. */
function evenTokens(count: number): bigint[] {
  const step = tokenSpace / BigInt(count);
  return Array.from({ length: count }, (_, i) => TOKEN_MIN + step / 2n + BigInt(i) * step);
}

/** The ring as mutable arrays, with the newcomer as owner index `self`. */
class Allocation {
  private readonly tokens: bigint[] = [];
  private readonly owners: number[] = [];
  /** Primary width per owner index; the newcomer's last. */
  private readonly owned: bigint[];
  private readonly self: number;
  private readonly primaryTarget: bigint;
  private readonly replicatedTarget: bigint;
  /** The water level: see the header. */
  private readonly level: bigint;
  /** False when the newcomer replicates every range whatever it does (N + 1 <= RF). */
  private readonly replicaAware: boolean;
  /** "Seen in this walk" marks by owner, reset in O(1) by moving to a new stamp. */
  private readonly seen: Uint32Array;
  private stamp = 0;

  constructor(
    ring: TokenRing,
    private readonly rf: number,
  ) {
    for (let i = 0; i < ring.size; i++) {
      this.tokens.push(ring.tokenAt(i));
      this.owners.push(ring.endpointIndexAt(i));
    }
    this.self = ring.endpoints.length;
    this.owned = new Array<bigint>(this.self + 1).fill(0n);
    for (let i = 0; i < ring.size; i++) this.owned[this.owners[i]!]! += this.width(i);
    const holders = ring.endpoints.filter((e) => e.tokens.length > 0).length;
    this.primaryTarget = tokenSpace / BigInt(holders + 1);
    this.replicatedTarget = (tokenSpace * BigInt(Math.min(rf, holders + 1))) / BigInt(holders + 1);
    this.level = waterLevel(this.owned.slice(0, this.self), this.primaryTarget);
    this.replicaAware = holders + 1 > rf;
    this.seen = new Uint32Array(this.self + 1);
  }

  /** Places one token, `left` being the tokens still to place including this one. */
  placeOne(left: number): bigint {
    const size = this.tokens.length;
    const widths = Array.from({ length: size }, (_, i) => this.width(i));
    const covered = this.replicaAware ? this.coveredRanges() : [];
    let replicated = 0n;
    for (let i = 0; i < covered.length; i++) if (covered[i]) replicated += widths[i]!;
    const wantedSlice = max(1n, (this.primaryTarget - this.owned[this.self]!) / BigInt(left));
    const wantedGain = Number(this.replicatedTarget - replicated) / left;

    let best = -1;
    let bestScore = Infinity;
    let bestSlice = 0n;
    for (let i = 0; i < size; i++) {
      const owner = this.owners[i]!;
      if (owner === this.self || widths[i]! < 2n) continue;
      const slice = min(wantedSlice, widths[i]! - 1n);
      const excess = this.owned[owner]! - this.level;
      let score = Number(wantedSlice - slice) + Math.max(0, Number(slice - excess));
      if (this.replicaAware) {
        const gain = (covered[i] ? 0 : Number(slice)) + this.gainBefore(i, widths, covered);
        score += Math.abs(gain - wantedGain);
      }
      if (score < bestScore) {
        best = i;
        bestScore = score;
        bestSlice = slice;
      }
    }
    assert(best >= 0, 'allocateTokens: no range is wide enough for another token');
    return this.insert(best, bestSlice);
  }

  /**
   * The width of the ranges before range `i` that the newcomer would newly replicate with a
   * token in range `i`: walking back from i − 1 while at most RF − 1 distinct other nodes have
   * been met, stopping at one of its own tokens (whose coverage reaches at least as far).
   */
  private gainBefore(i: number, widths: readonly bigint[], covered: readonly boolean[]): number {
    const size = this.tokens.length;
    const stamp = this.nextStamp();
    let distinct = 0;
    let gain = 0;
    for (let step = 1; step < size; step++) {
      const j = (i - step + size) % size;
      const owner = this.owners[j]!;
      if (owner === this.self) break;
      if (this.seen[owner] !== stamp) {
        this.seen[owner] = stamp;
        if (++distinct > this.rf - 1) break;
      }
      if (!covered[j]) gain += Number(widths[j]!);
    }
    return gain;
  }

  /** For each range, whether the newcomer is among its RF replicas (simple strategy). */
  private coveredRanges(): boolean[] {
    const size = this.tokens.length;
    const out = new Array<boolean>(size).fill(false);
    for (let i = 0; i < size; i++) {
      const stamp = this.nextStamp();
      let distinct = 0;
      for (let step = 0; step < size; step++) {
        const owner = this.owners[(i + step) % size]!;
        if (owner === this.self) {
          out[i] = true;
          break;
        }
        if (this.seen[owner] !== stamp) {
          this.seen[owner] = stamp;
          if (++distinct >= this.rf) break;
        }
      }
    }
    return out;
  }

  /** Puts a newcomer token `slice` past the start of range `i`; returns it. */
  private insert(i: number, slice: bigint): bigint {
    const size = this.tokens.length;
    assert(slice >= 1n && slice < this.width(i), 'allocateTokens: slice outside its range');
    const start = this.tokens[(i - 1 + size) % size]!;
    const donor = this.owners[i]!;
    let token = start + slice;
    if (token > TOKEN_MAX) token -= tokenSpace;
    // The token lies before tokens[i]; when it wrapped past TOKEN_MAX (only in range 0) it
    // lies before tokens[0], and otherwise after tokens[size - 1] or right before tokens[i].
    const at = token <= this.tokens[i]! ? i : size;
    this.tokens.splice(at, 0, token);
    this.owners.splice(at, 0, this.self);
    this.owned[donor]! -= slice;
    this.owned[this.self]! += slice;
    return token;
  }

  /** The width of range i, (tokens[i − 1], tokens[i]], wrapping; 2^64 for a single token. */
  private width(i: number): bigint {
    const size = this.tokens.length;
    if (size === 1) return tokenSpace;
    const previous = i === 0 ? this.tokens[size - 1]! - tokenSpace : this.tokens[i - 1]!;
    return this.tokens[i]! - previous;
  }

  private nextStamp(): number {
    this.stamp++;
    assert(this.stamp < 0xffff_ffff, 'allocateTokens: walk stamps exhausted');
    return this.stamp;
  }
}

/**
 * The level L with Σ max(0, owned_i − L) = target: lowering every share above L to L frees
 * exactly the target. At least 0 (when the target is everything).
 */
function waterLevel(owned: readonly bigint[], target: bigint): bigint {
  const sorted = [...owned].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
  let sum = 0n;
  for (let k = 1; k <= sorted.length; k++) {
    sum += sorted[k - 1]!;
    const level = (sum - target) / BigInt(k);
    if (k === sorted.length || level >= sorted[k]!) return max(0n, level);
  }
  return 0n;
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
