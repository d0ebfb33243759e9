/**
 * The token ring of hashed tables (Dynamo's consistent hashing, in Cassandra's form).
 *
 * Every row key hashes to a token, a signed 64-bit integer (Murmur3Partitioner's range,
 * [-(2^63), 2^63 - 1], held as a `bigint`). Each endpoint claims some tokens on a circle of
 * that range; a token `t` belongs to the endpoint whose token is the first one >= `t`, wrapping
 * from the largest token back to the smallest. Put differently, the endpoint holding token
 * `tokens[i]` owns the range (tokens[i - 1], tokens[i]], and the first token owns the wrapped
 * range (last, first]. Adding or removing an endpoint therefore moves only the ranges next to
 * its own tokens: that is the point of consistent hashing.
 *
 * Why several tokens per endpoint (virtual nodes): with one random token each, the gaps between
 * tokens, and so the data each endpoint holds, differ by large factors. Each endpoint's share is
 * a sum of `vnodes` gaps, and the spread of such a sum shrinks as 1 / sqrt(vnodes). Tokens are
 * chosen at random (`randomTokens`); Cassandra 4 pairs 16 tokens with a load-aware allocator,
 * and without one more tokens are needed for the same balance. `VNODES_DEFAULT` was chosen
 * from the measurement in docs/benchmarks.md ("Token ring balance").
 *
 * A ring is an immutable value built by `TokenRing.of`; a membership change builds a new one.
 * Replica placement on top of the ring is in replication.ts.
 */
import type { Random } from '../env/types.js';
import { assert } from '../util/assert.js';
import { invalidArgument } from '../util/errors.js';
import { TOKEN_MAX, TOKEN_MIN } from './murmur3.js';

/**
 * Tokens a new endpoint claims when its configuration does not say. Measured with random
 * tokens (mean over 20 seeds of the largest share over the mean share): 64 gives 1.19 on 10
 * nodes and 1.34 on 100, where 16 gives 1.42 and 1.79 and 256 gives 1.09 and 1.16. Past 64 the
 * gain is small while the costs grow linearly: ring size and replica table (nodes x vnodes
 * entries), tokens carried by gossip, and ranges to stream and repair. The table is in
 * docs/benchmarks.md.
 */
export const VNODES_DEFAULT = 64;
/** Upper bound on the tokens one endpoint may claim. */
export const VNODES_MAX = 1024;

// The smallest and largest tokens (Murmur3Partitioner's range, Java's long) live with the hash.
export { TOKEN_MAX, TOKEN_MIN };
/** The number of distinct tokens on the ring, 2^64: the denominator of every ownership share. */
const tokenSpace = 1n << 64n;

/** Bound on the draws `randomTokens` makes per token before deciding the Random is broken. */
const drawsPerTokenMax = 8;

export interface EndpointPlacement {
  /** The node's name; unique in a ring. */
  readonly id: string;
  /** The tokens the endpoint claims, in any order. In a built ring: those it holds, ascending. */
  readonly tokens: readonly bigint[];
  readonly datacenter: string;
  readonly rack: string;
}

/**
 * Random distinct tokens for a new node, ascending: each is uniform over the signed 64-bit
 * range, its high and low halves taken from two `random.uint32()` draws. A token equal to one
 * another endpoint already holds is astronomically unlikely (about count x ringSize / 2^64) and
 * harmless: `TokenRing.of` resolves the clash deterministically.
 */
export function randomTokens(random: Random, count: number): bigint[] {
  if (!Number.isInteger(count) || count < 1 || count > VNODES_MAX) {
    throw invalidArgument(`token count must be an integer in [1, ${VNODES_MAX}], got ${count}`, {
      count,
    });
  }
  const tokens = new Set<bigint>();
  for (let draw = 0; tokens.size < count; draw++) {
    assert(draw < count * drawsPerTokenMax, 'randomTokens: the Random keeps repeating itself');
    const unsigned = (BigInt(random.uint32()) << 32n) | BigInt(random.uint32());
    tokens.add(BigInt.asIntN(64, unsigned));
  }
  return [...tokens].sort(compareTokens);
}

/**
 * An immutable ring: the sorted tokens of all endpoints and, for each, the endpoint holding it.
 */
export class TokenRing {
  /** The endpoints, sorted by id; each one's `tokens` are those it holds, ascending. */
  readonly endpoints: readonly EndpointPlacement[];
  /** The number of tokens on the ring. */
  readonly size: number;
  /** All tokens, ascending. */
  private readonly tokens: readonly bigint[];
  /** For each token, the index in `endpoints` of the endpoint holding it. */
  private readonly holders: readonly number[];

  private constructor(
    endpoints: readonly EndpointPlacement[],
    tokens: readonly bigint[],
    holders: readonly number[],
  ) {
    assert(tokens.length === holders.length, 'TokenRing: tokens and holders differ in length');
    this.endpoints = endpoints;
    this.tokens = tokens;
    this.holders = holders;
    this.size = tokens.length;
  }

  /**
   * Builds the ring. Ids must be unique and non-empty, tokens within the signed 64-bit range,
   * at most `VNODES_MAX` per endpoint. An endpoint may claim no tokens (it then owns nothing).
   *
   * When two endpoints claim the same token, the one with the smaller id keeps it (ids compared
   * by UTF-16 code units, JavaScript's `<`), so every node that builds a ring from the same
   * claims builds the same ring; the other endpoint simply does not hold that token, and its
   * `tokens` in `endpoints` leave it out. A token an endpoint lists twice counts once.
   */
  static of(endpoints: readonly EndpointPlacement[]): TokenRing {
    const sorted = [...endpoints].sort((a, b) => compareIds(a.id, b.id));
    sorted.forEach((endpoint, i) => {
      validatePlacement(endpoint);
      if (i > 0 && sorted[i - 1]!.id === endpoint.id) {
        throw invalidArgument(`endpoint '${endpoint.id}' appears twice in the ring`, {
          id: endpoint.id,
        });
      }
    });

    // Sort every claim by token, ties by endpoint index (= id order), and keep the first claim
    // of each token: the smaller id wins.
    const claims: { readonly token: bigint; readonly holder: number }[] = [];
    sorted.forEach((endpoint, holder) => {
      for (const token of endpoint.tokens) claims.push({ token, holder });
    });
    claims.sort((a, b) => compareTokens(a.token, b.token) || a.holder - b.holder);
    const tokens: bigint[] = [];
    const holders: number[] = [];
    const held: bigint[][] = sorted.map(() => []);
    for (const claim of claims) {
      if (tokens.length > 0 && tokens[tokens.length - 1] === claim.token) continue;
      tokens.push(claim.token);
      holders.push(claim.holder);
      held[claim.holder]!.push(claim.token);
    }
    const placements = sorted.map((endpoint, i): EndpointPlacement => ({
      id: endpoint.id,
      tokens: held[i]!,
      datacenter: endpoint.datacenter,
      rack: endpoint.rack,
    }));
    return new TokenRing(placements, tokens, holders);
  }

  /**
   * The index in the sorted token list of the first token >= `token`, wrapping to 0 past the
   * largest: the token whose range (previous token, this token] contains `token`. A binary
   * search, O(log size). The ring must not be empty.
   */
  ownerIndex(token: bigint): number {
    const tokens = this.tokens;
    if (tokens.length === 0) throw invalidArgument('the token ring is empty');
    let lo = 0;
    let hi = tokens.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (tokens[mid]! < token) lo = mid + 1;
      else hi = mid;
    }
    return lo === tokens.length ? 0 : lo;
  }

  tokenAt(i: number): bigint {
    return this.tokens[this.checkIndex(i)]!;
  }

  endpointAt(i: number): EndpointPlacement {
    return this.endpoints[this.holders[this.checkIndex(i)]!]!;
  }

  /** The index in `endpoints` of the endpoint holding token `i` (for walks that count by index). */
  endpointIndexAt(i: number): number {
    return this.holders[this.checkIndex(i)]!;
  }

  /**
   * The number of tokens in the range owned through token `i`, (tokens[i - 1], tokens[i]]; the
   * first token's range wraps around, and a ring of one token owns all 2^64.
   */
  rangeWidth(i: number): bigint {
    this.checkIndex(i);
    const tokens = this.tokens;
    if (tokens.length === 1) return tokenSpace;
    const previous = i === 0 ? tokens[tokens.length - 1]! - tokenSpace : tokens[i - 1]!;
    return tokens[i]! - previous;
  }

  /**
   * Each endpoint's primary-range share of the token space, by id, summing to 1 (every endpoint
   * is listed; one holding no token has 0). An empty ring gives 0 to every endpoint.
   */
  ownership(): Map<string, number> {
    const widths = this.endpoints.map(() => 0n);
    for (let i = 0; i < this.size; i++) widths[this.holders[i]!]! += this.rangeWidth(i);
    return new Map(this.endpoints.map((e, i) => [e.id, shareOf(widths[i]!)]));
  }

  /**
   * The largest primary share over the mean share, max(share) x endpoints: 1.0 is a perfectly
   * even ring, 2.0 means some endpoint holds twice its fair part. Endpoints holding no token
   * count in the mean. A ring without tokens is reported as balanced (1).
   */
  balance(): number {
    if (this.size === 0) return 1;
    let max = 0;
    for (const share of this.ownership().values()) max = Math.max(max, share);
    return max * this.endpoints.length;
  }

  private checkIndex(i: number): number {
    if (!(Number.isInteger(i) && i >= 0 && i < this.tokens.length)) {
      throw invalidArgument(`token index ${i} is outside [0, ${this.tokens.length})`, { index: i });
    }
    return i;
  }
}

/** A part of the token space as a fraction of all 2^64 tokens. */
export function shareOf(width: bigint): number {
  return Number(width) / Number(tokenSpace);
}

function validatePlacement(endpoint: EndpointPlacement): void {
  if (typeof endpoint.id !== 'string' || endpoint.id.length === 0) {
    throw invalidArgument('an endpoint id must be a non-empty string');
  }
  if (endpoint.tokens.length > VNODES_MAX) {
    throw invalidArgument(
      `endpoint '${endpoint.id}' claims ${endpoint.tokens.length} tokens, more than ${VNODES_MAX}`,
      { id: endpoint.id, tokens: endpoint.tokens.length },
    );
  }
  for (const token of endpoint.tokens) {
    if (typeof token !== 'bigint' || token < TOKEN_MIN || token > TOKEN_MAX) {
      throw invalidArgument(
        `endpoint '${endpoint.id}' claims a token outside the signed 64-bit range`,
        {
          id: endpoint.id,
          token: String(token),
        },
      );
    }
  }
}

function compareTokens(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
