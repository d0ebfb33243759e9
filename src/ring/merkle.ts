/**
 * Merkle trees over the token space, as Cassandra's anti-entropy repair uses them: each
 * replica of a range summarizes what it holds there in a tree, the trees are compared from the
 * root down, and only rows under the leaves that differ are streamed. Equal replicas cost a
 * tree each and one root comparison, whatever their size.
 *
 * Shape. A tree of depth d has 2^d leaves; leaf i covers the i-th of 2^d equal, contiguous
 * slices of the signed 64-bit token space, so two replicas build trees of the same shape with
 * no agreement beyond d, and leaf i's bounds are arithmetic (`leafBounds`). Depth 12 (4096
 * leaves, 64 KiB of leaf hashes) is Cassandra's old default range; a repair of a table of
 * 10^7 rows then streams about 2,400 rows per differing leaf. Depth is capped at 20 (16 MiB of
 * leaves), as a bound on memory, not a format limit.
 *
 * Leaves. A leaf is the XOR of the 16-byte digests of the rows whose tokens fall in it. XOR is
 * order-independent, which matters because a replica scans its rows in key order, not token
 * order, and adds them to leaves as it meets them. Digests include the row key, so a replica
 * never adds one digest twice and rows cannot cancel each other except by an MD5 collision.
 *
 * Inner nodes. A parent is md5(left || right) — except that a parent of two all-zero children
 * is all-zero. A leaf with no rows is zero, so an empty subtree, however deep, hashes to zero
 * too: an empty tree has a zero root, and both replicas agree on what "nothing here" is
 * without hashing anything. (A non-empty leaf that is zero would need XORed MD5 digests to
 * cancel exactly, probability 2^-128.)
 *
 * MD5 is Cassandra's choice too: the digests guard against accidents, not adversaries, and
 * MD5 is the fastest 128-bit hash node:crypto offers.
 */
import { createHash, hash as nodeHash } from 'node:crypto';
import { assert } from '../util/assert.js';
import { invalidArgument } from '../util/errors.js';
import { TOKEN_MAX, TOKEN_MIN } from './murmur3.js';

/** Leaves 2^12: see the header for the trade-off. */
export const MERKLE_DEPTH_DEFAULT = 12;
/** Upper bound on the depth: 2^20 leaves, 16 MiB of leaf hashes per tree. */
export const MERKLE_DEPTH_MAX = 20;
/** Bytes of a row digest and of every tree node. */
export const DIGEST_BYTES = 16;

/** An inclusive interval of tokens. */
export interface LeafInterval {
  readonly lo: bigint;
  readonly hi: bigint;
}

/** What comparing two trees found, and what it cost. */
export interface MerkleDiff {
  /** The leaves whose hashes differ, ascending. */
  readonly leaves: number[];
  /** Node pairs compared: 1 + 2 x (differing inner nodes); the root alone for equal trees. */
  readonly comparisons: number;
}

/** The leaf of a tree of depth `depth` that holds `token`. */
export function leafOf(token: bigint, depth: number): number {
  checkDepth(depth);
  checkToken(token);
  return Number((token - TOKEN_MIN) >> BigInt(64 - depth));
}

/** The tokens leaf `leaf` covers, inclusive: 2^(64 - depth) of them. */
export function leafBounds(leaf: number, depth: number): LeafInterval {
  checkDepth(depth);
  checkLeaf(leaf, depth);
  const shift = BigInt(64 - depth);
  const lo = TOKEN_MIN + (BigInt(leaf) << shift);
  return { lo, hi: lo + (1n << shift) - 1n };
}

/**
 * The tokens of `leaves` (any order, repeats allowed) as sorted intervals, adjacent leaves
 * merged into one: what to stream for a set of differing leaves.
 */
export function leafIntervals(leaves: readonly number[], depth: number): LeafInterval[] {
  checkDepth(depth);
  for (const leaf of leaves) checkLeaf(leaf, depth);
  const sorted = [...new Set(leaves)].sort((a, b) => a - b);
  const out: LeafInterval[] = [];
  let runStart = 0;
  for (let k = 0; k < sorted.length; k++) {
    if (k + 1 < sorted.length && sorted[k + 1] === sorted[k]! + 1) continue;
    out.push({
      lo: leafBounds(sorted[runStart]!, depth).lo,
      hi: leafBounds(sorted[k]!, depth).hi,
    });
    runStart = k + 1;
  }
  return out;
}

/**
 * Node's one-shot hash (Node 20.12+, 21.7+; engines asks for 20.19): half of a repair's tree
 * building went to createHash per row. Older runtimes fall back to createHash.
 */
const oneShot = typeof nodeHash === 'function' ? nodeHash : undefined;

/** The 16-byte MD5 digest of `bytes`. The canonical row encoding is the caller's. */
export function digest16(bytes: Uint8Array): Uint8Array {
  const b =
    oneShot !== undefined
      ? oneShot('md5', bytes, 'buffer')
      : createHash('md5').update(bytes).digest();
  // A plain Uint8Array view of the Buffer: no copy.
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

/**
 * The leaf hashes of one replica's rows, built by XOR as rows come in any order. `bytes` is
 * leaf i at [16 i, 16 i + 16), the form a replica sends to the repair's coordinator.
 */
export class LeafHashes {
  readonly depth: number;
  /** 2^depth leaves of 16 bytes. */
  readonly bytes: Uint8Array;
  private readonly shift: bigint;
  private count = 0;

  constructor(depth: number) {
    checkDepth(depth);
    this.depth = depth;
    this.shift = BigInt(64 - depth);
    this.bytes = new Uint8Array(DIGEST_BYTES << depth);
  }

  /** XORs a row's 16-byte digest into the leaf of its token. */
  add(token: bigint, digest: Uint8Array): void {
    checkToken(token);
    if (digest.length !== DIGEST_BYTES) {
      throw invalidArgument(`a row digest is ${DIGEST_BYTES} bytes, got ${digest.length}`);
    }
    const at = Number((token - TOKEN_MIN) >> this.shift) * DIGEST_BYTES;
    const bytes = this.bytes;
    for (let i = 0; i < DIGEST_BYTES; i++) bytes[at + i]! ^= digest[i]!;
    this.count++;
  }

  /** Rows added. */
  get rows(): number {
    return this.count;
  }
}

/** A Merkle tree built from leaf hashes; immutable. */
export class MerkleTree {
  readonly depth: number;
  /** levels[k] holds the 2^k nodes of depth k, 16 bytes each; levels[depth] are the leaves. */
  private readonly levels: readonly Uint8Array[];

  private constructor(depth: number, levels: readonly Uint8Array[]) {
    this.depth = depth;
    this.levels = levels;
  }

  /**
   * The tree over leaf hashes `bytes` (2^depth x 16 bytes, as LeafHashes.bytes; copied).
   * INVALID_ARGUMENT on a bad depth or length: the leaves usually come from another node.
   */
  static fromLeaves(depth: number, bytes: Uint8Array): MerkleTree {
    checkDepth(depth);
    if (!(bytes instanceof Uint8Array) || bytes.length !== DIGEST_BYTES << depth) {
      throw invalidArgument(
        `Merkle leaves of depth ${depth} are ${DIGEST_BYTES << depth} bytes, got ${String(bytes?.length)}`,
        { depth },
      );
    }
    const levels: Uint8Array[] = new Array<Uint8Array>(depth + 1);
    levels[depth] = bytes.slice();
    for (let k = depth - 1; k >= 0; k--) levels[k] = parentsOf(levels[k + 1]!);
    return new MerkleTree(depth, levels);
  }

  /** The root hash (a copy); all zero for a tree with no rows. */
  get root(): Uint8Array {
    return this.levels[0]!.slice();
  }

  /** The leaf hashes (a copy), as `fromLeaves` takes them. */
  get leaves(): Uint8Array {
    return this.levels[this.depth]!.slice();
  }

  /** The leaves whose hashes differ from `other`'s, ascending. */
  differingLeaves(other: MerkleTree): number[] {
    return this.diff(other).leaves;
  }

  /**
   * Compares from the root down, entering only subtrees whose hashes differ: equal trees cost
   * one comparison, one differing leaf 1 + 2 x depth. INVALID_ARGUMENT if the depths differ.
   */
  diff(other: MerkleTree): MerkleDiff {
    if (other.depth !== this.depth) {
      throw invalidArgument(
        `cannot compare Merkle trees of depth ${this.depth} and ${other.depth}`,
      );
    }
    const leaves: number[] = [];
    let comparisons = 0;
    // Depth-first, left child first, so leaves come out ascending. The stack holds at most
    // one pending right sibling per level.
    const stack: number[] = [0, 0]; // pairs of (level, index)
    while (stack.length > 0) {
      const index = stack.pop()!;
      const level = stack.pop()!;
      comparisons++;
      if (nodesEqual(this.levels[level]!, other.levels[level]!, index)) continue;
      if (level === this.depth) {
        leaves.push(index);
        continue;
      }
      stack.push(level + 1, 2 * index + 1, level + 1, 2 * index);
    }
    return { leaves, comparisons };
  }
}

/** The level above `children`: md5(left || right), or zero when both children are zero. */
function parentsOf(children: Uint8Array): Uint8Array {
  const count = children.length / DIGEST_BYTES / 2;
  assert(Number.isInteger(count), 'Merkle: a level must have an even number of nodes');
  const out = new Uint8Array(count * DIGEST_BYTES);
  for (let p = 0; p < count; p++) {
    const pair = children.subarray(2 * p * DIGEST_BYTES, (2 * p + 2) * DIGEST_BYTES);
    if (isZero(pair)) continue;
    out.set(createHash('md5').update(pair).digest(), p * DIGEST_BYTES);
  }
  return out;
}

function isZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

function nodesEqual(a: Uint8Array, b: Uint8Array, index: number): boolean {
  const at = index * DIGEST_BYTES;
  for (let i = at; i < at + DIGEST_BYTES; i++) if (a[i] !== b[i]) return false;
  return true;
}

function checkDepth(depth: number): void {
  if (!Number.isInteger(depth) || depth < 0 || depth > MERKLE_DEPTH_MAX) {
    throw invalidArgument(
      `Merkle depth must be an integer in [0, ${MERKLE_DEPTH_MAX}], got ${depth}`,
      {
        depth,
      },
    );
  }
}

function checkLeaf(leaf: number, depth: number): void {
  if (!Number.isInteger(leaf) || leaf < 0 || leaf >= 2 ** depth) {
    throw invalidArgument(`leaf ${leaf} is outside [0, ${2 ** depth}) at depth ${depth}`, {
      leaf,
      depth,
    });
  }
}

function checkToken(token: bigint): void {
  if (typeof token !== 'bigint' || token < TOKEN_MIN || token > TOKEN_MAX) {
    throw invalidArgument(`token ${String(token)} is outside the signed 64-bit range`);
  }
}
