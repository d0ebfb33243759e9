import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../util/bytes.js';
import { Prng } from '../util/prng.js';
import { expectInvalid } from '../util/testing/expect-invalid.js';
import {
  digest16,
  DIGEST_BYTES,
  LeafHashes,
  leafBounds,
  leafIntervals,
  leafOf,
  MERKLE_DEPTH_DEFAULT,
  MERKLE_DEPTH_MAX,
  MerkleTree,
} from './merkle.js';
import { TOKEN_MAX, TOKEN_MIN } from './murmur3.js';

function randomToken(random: Prng): bigint {
  return BigInt.asIntN(64, (BigInt(random.uint32()) << 32n) | BigInt(random.uint32()));
}

interface Row {
  readonly token: bigint;
  readonly digest: Uint8Array;
}

function randomRows(random: Prng, count: number): Row[] {
  return Array.from({ length: count }, (_, i) => ({
    token: randomToken(random),
    digest: digest16(utf8(`row-${i}-${random.uint32()}`)),
  }));
}

function treeOf(depth: number, rows: readonly Row[]): MerkleTree {
  const hashes = new LeafHashes(depth);
  for (const r of rows) hashes.add(r.token, r.digest);
  return MerkleTree.fromLeaves(depth, hashes.bytes);
}

describe('leaves of the token space', () => {
  it('partition the signed 64-bit range into 2^depth equal slices', () => {
    for (const depth of [0, 1, 3, MERKLE_DEPTH_DEFAULT, MERKLE_DEPTH_MAX]) {
      const leaves = 2 ** depth;
      expect(leafBounds(0, depth).lo).toBe(TOKEN_MIN);
      expect(leafBounds(leaves - 1, depth).hi).toBe(TOKEN_MAX);
      for (const i of [0, 1, leaves >> 1, leaves - 2, leaves - 1].filter(
        (i) => i >= 0 && i < leaves,
      )) {
        const { lo, hi } = leafBounds(i, depth);
        expect(hi - lo + 1n).toBe(1n << BigInt(64 - depth));
        expect(leafOf(lo, depth)).toBe(i);
        expect(leafOf(hi, depth)).toBe(i);
        if (i + 1 < leaves) expect(leafBounds(i + 1, depth).lo).toBe(hi + 1n);
      }
    }
    expect(leafOf(-1n, 1)).toBe(0);
    expect(leafOf(0n, 1)).toBe(1);
  });

  it('place every token in the leaf whose bounds hold it', () => {
    const random = new Prng(1);
    for (let k = 0; k < 500; k++) {
      const token = randomToken(random);
      const depth = random.between(0, MERKLE_DEPTH_MAX);
      const { lo, hi } = leafBounds(leafOf(token, depth), depth);
      expect(lo <= token && token <= hi).toBe(true);
    }
  });

  it('merge into intervals for streaming: sorted, deduplicated, adjacent leaves joined', () => {
    const depth = 4;
    expect(leafIntervals([7, 3, 1, 2, 2], depth)).toEqual([
      { lo: leafBounds(1, depth).lo, hi: leafBounds(3, depth).hi },
      leafBounds(7, depth),
    ]);
    expect(leafIntervals([], depth)).toEqual([]);
    const everyLeaf = Array.from({ length: 16 }, (_, i) => i);
    expect(leafIntervals(everyLeaf, depth)).toEqual([{ lo: TOKEN_MIN, hi: TOKEN_MAX }]);
  });

  it('reject bad depths, leaves and tokens', () => {
    for (const depth of [-1, MERKLE_DEPTH_MAX + 1, 1.5, NaN]) {
      expectInvalid(() => leafOf(0n, depth));
      expectInvalid(() => new LeafHashes(depth));
      expectInvalid(() => MerkleTree.fromLeaves(depth, new Uint8Array(16)));
    }
    expectInvalid(() => leafBounds(16, 4));
    expectInvalid(() => leafBounds(-1, 4));
    expectInvalid(() => leafIntervals([0, 16], 4));
    expectInvalid(() => leafOf(TOKEN_MAX + 1n, 4));
    expectInvalid(() => new LeafHashes(4).add(TOKEN_MIN - 1n, new Uint8Array(16)));
    expectInvalid(() => new LeafHashes(4).add(0n, new Uint8Array(15)));
  });
});

describe('digest16', () => {
  it('is MD5', () => {
    expect(toHex(digest16(new Uint8Array(0)))).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(toHex(digest16(utf8('abc')))).toBe('900150983cd24fb0d6963f7d28e17f72');
    expect(digest16(utf8('abc'))).toHaveLength(DIGEST_BYTES);
  });
});

describe('LeafHashes', () => {
  it('does not depend on the order rows are added in', () => {
    const random = new Prng(2);
    const rows = randomRows(random, 300);
    const a = new LeafHashes(6);
    const b = new LeafHashes(6);
    for (const r of rows) a.add(r.token, r.digest);
    for (const r of random.shuffle([...rows])) b.add(r.token, r.digest);
    expect(toHex(a.bytes)).toBe(toHex(b.bytes));
    expect(a.rows).toBe(300);
    expect(a.bytes).toHaveLength(16 * 64);
  });

  it('XORs each digest into its own leaf only', () => {
    const hashes = new LeafHashes(2);
    const d = digest16(utf8('r'));
    hashes.add(0n, d); // leaf 2 of 4
    expect(hashes.bytes.subarray(32, 48)).toEqual(d);
    expect(hashes.bytes.filter((_, i) => i < 32 || i >= 48).every((b) => b === 0)).toBe(true);
  });
});

describe('MerkleTree', () => {
  it('finds no difference between trees of the same rows, at the cost of one comparison', () => {
    const random = new Prng(3);
    const rows = randomRows(random, 1000);
    const a = treeOf(MERKLE_DEPTH_DEFAULT, rows);
    const b = treeOf(MERKLE_DEPTH_DEFAULT, random.shuffle([...rows]));
    expect(a.root).toEqual(b.root);
    expect(a.diff(b)).toEqual({ leaves: [], comparisons: 1 });
    expect(a.differingLeaves(b)).toEqual([]);
  });

  it('finds exactly the leaf of one changed, added or missing row, along one path', () => {
    const random = new Prng(4);
    for (const depth of [0, 1, 5, MERKLE_DEPTH_DEFAULT]) {
      const rows = randomRows(random, 500);
      const base = treeOf(depth, rows);
      const target = random.int(rows.length);
      const changed = rows.map((r, i) =>
        i === target ? { token: r.token, digest: digest16(utf8('other')) } : r,
      );
      const leaf = leafOf(rows[target]!.token, depth);
      for (const other of [changed, rows.slice(0, target).concat(rows.slice(target + 1))]) {
        const diff = base.diff(treeOf(depth, other));
        expect(diff.leaves).toEqual([leaf]);
        expect(diff.comparisons).toBe(1 + 2 * depth);
        expect(treeOf(depth, other).differingLeaves(base)).toEqual([leaf]);
      }
    }
  });

  it('enters only the subtrees that differ, and finds every differing leaf', () => {
    const random = new Prng(5);
    for (let round = 0; round < 30; round++) {
      const depth = random.between(1, 10);
      const leaves = 2 ** depth;
      const a = random.bytes(leaves * 16);
      const b = a.slice();
      const changed = new Set<number>();
      const count = random.int(Math.min(leaves, 20) + 1);
      for (let k = 0; k < count; k++) {
        const leaf = random.int(leaves);
        changed.add(leaf);
        b[leaf * 16 + random.int(16)]! ^= 1 + random.int(255);
      }
      const diff = MerkleTree.fromLeaves(depth, a).diff(MerkleTree.fromLeaves(depth, b));
      expect(diff.leaves).toEqual([...changed].sort((x, y) => x - y));
      // The inner nodes that differ are the ancestors of changed leaves; each is compared, and
      // so are its two children. Nothing else is visited.
      const ancestors = new Set<string>();
      for (const leaf of changed) {
        for (let level = 0; level < depth; level++)
          ancestors.add(`${level}:${leaf >> (depth - level)}`);
      }
      expect(diff.comparisons).toBe(1 + 2 * ancestors.size);
    }
  });

  it('hashes empty subtrees to zero and non-empty ones to something else', () => {
    const empty = MerkleTree.fromLeaves(8, new Uint8Array(16 * 256));
    expect(empty.root).toEqual(new Uint8Array(16));
    const one = treeOf(8, [{ token: 0n, digest: digest16(utf8('x')) }]);
    expect(one.root).not.toEqual(new Uint8Array(16));
    expect(one.diff(empty).leaves).toEqual([128]);
    // The root is md5(left || right), the left half being empty.
    const rootOfTwo = treeOf(1, [{ token: 0n, digest: digest16(utf8('x')) }]);
    const input = new Uint8Array(32);
    input.set(digest16(utf8('x')), 16);
    expect(rootOfTwo.root).toEqual(digest16(input));
  });

  it('copies its leaves, and exposes them for sending', () => {
    const bytes = new Prng(6).bytes(16 * 8);
    const tree = MerkleTree.fromLeaves(3, bytes);
    const root = tree.root;
    bytes[0]! ^= 1;
    expect(tree.root).toEqual(root);
    tree.root[0]! ^= 1;
    expect(tree.root).toEqual(root);
    bytes[0]! ^= 1;
    expect(tree.leaves).toEqual(bytes);
    expect(MerkleTree.fromLeaves(3, tree.leaves).root).toEqual(root);
  });

  it('rejects leaves of the wrong length and trees of another depth', () => {
    expectInvalid(() => MerkleTree.fromLeaves(3, new Uint8Array(16 * 8 - 1)));
    expectInvalid(() => MerkleTree.fromLeaves(3, new Uint8Array(16 * 16)));
    expectInvalid(() => MerkleTree.fromLeaves(3, [] as unknown as Uint8Array));
    const a = MerkleTree.fromLeaves(3, new Uint8Array(16 * 8));
    const b = MerkleTree.fromLeaves(4, new Uint8Array(16 * 16));
    expectInvalid(() => a.differingLeaves(b));
  });
});
