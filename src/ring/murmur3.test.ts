/**
 * murmur3Token against the tokens Cassandra itself assigns (testdata/murmur3-cassandra.json,
 * see testdata/README.md), and against a plain BigInt transcription of Cassandra's
 * MurmurHash.hash3_x64_128 for random keys. The transcription is slow but has none of the
 * 32-bit word juggling of the real implementation, so the two are unlikely to share a bug.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Prng } from '../util/prng.js';
import { murmur3Token, TOKEN_MAX, TOKEN_MIN, tokenFromWords } from './murmur3.js';

interface Vector {
  readonly hex: string;
  readonly token: string;
}

const vectorsPath = fileURLToPath(new URL('./testdata/murmur3-cassandra.json', import.meta.url));
const vectors = (JSON.parse(readFileSync(vectorsPath, 'utf8')) as { vectors: Vector[] }).vectors;

const fromHex = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'));

/** The vector for `hex`; fails if the file lacks it, so the named cases cannot go missing. */
function vector(hex: string): Vector {
  const found = vectors.find((v) => v.hex === hex);
  if (found === undefined) throw new Error(`no vector for key ${hex} in ${vectorsPath}`);
  return found;
}

// The BigInt oracle: Cassandra's Java, line for line, with `signedTail` switchable so the
// tests can show which vectors tell Cassandra's hash from the reference C one.
const mask64 = (1n << 64n) - 1n;
const c1 = 0x87c37b91114253d5n;
const c2 = 0x4cf5ad432745937fn;
const mul = (a: bigint, b: bigint): bigint => (a * b) & mask64;
const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & mask64;
const fmix = (k: bigint): bigint => {
  k ^= k >> 33n;
  k = mul(k, 0xff51afd7ed558ccdn);
  k ^= k >> 33n;
  k = mul(k, 0xc4ceb9fe1a85ec53n);
  return k ^ (k >> 33n);
};
const lane = (key: Uint8Array, at: number): bigint => {
  let k = 0n;
  for (let i = 7; i >= 0; i--) k = (k << 8n) | BigInt(key[at + i]!);
  return k;
};

function oracleToken(key: Uint8Array, signedTail = true): bigint {
  const bodyEnd = key.length - (key.length % 16);
  let h1 = 0n;
  let h2 = 0n;
  for (let at = 0; at < bodyEnd; at += 16) {
    h1 ^= mul(rotl(mul(lane(key, at), c1), 31n), c2);
    h1 = (mul(rotl(h1, 27n) + h2, 5n) + 0x52dce729n) & mask64;
    h2 ^= mul(rotl(mul(lane(key, at + 8), c2), 33n), c1);
    h2 = (mul(rotl(h2, 31n) + h1, 5n) + 0x38495ab5n) & mask64;
  }
  let k1 = 0n;
  let k2 = 0n;
  for (let i = 0; i < key.length - bodyEnd; i++) {
    const b = key[bodyEnd + i]!;
    const value = BigInt(signedTail && b >= 0x80 ? b - 256 : b); // Java's (long) byte.
    const shifted = (value << BigInt((i % 8) * 8)) & mask64;
    if (i < 8) k1 ^= shifted;
    else k2 ^= shifted;
  }
  if (key.length - bodyEnd > 8) h2 ^= mul(rotl(mul(k2, c2), 33n), c1);
  if (key.length - bodyEnd > 0) h1 ^= mul(rotl(mul(k1, c1), 31n), c2);
  h1 ^= BigInt(key.length);
  h2 ^= BigInt(key.length);
  h1 = (h1 + h2) & mask64;
  h2 = (h2 + h1) & mask64;
  h1 = fmix(h1);
  h2 = fmix(h2);
  const token = BigInt.asIntN(64, h1 + h2);
  return token === TOKEN_MIN ? TOKEN_MAX : token;
}

describe('murmur3Token', () => {
  it('gives the token Cassandra assigns for every vector in the file', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(100);
    const mismatches = vectors
      .map((v) => ({ hex: v.hex, want: v.token, got: murmur3Token(fromHex(v.hex)).toString() }))
      .filter((r) => r.got !== r.want);
    expect(mismatches).toEqual([]);
  });

  it('agrees with the BigInt oracle on the vectors (so the oracle is Cassandra too)', () => {
    for (const v of vectors) expect(oracleToken(fromHex(v.hex)).toString(), v.hex).toBe(v.token);
  });

  // Keys whose tail holds a byte >= 0x80: Cassandra sign-extends it, the reference C
  // implementation does not. Each lands in a different place: k1's low word, k1's high word,
  // k2, and a tail after a full block.
  it.each([
    ['c1', 'one byte 0xc1, in the low word of k1'],
    ['bc2f07a7fa12', 'six bytes, 0xfa in the high word of k1'],
    ['f20fc2450c78d2ddc1', 'nine bytes, 0xc1 alone in k2'],
    ['ff'.repeat(17), 'a full block of 0xff, then a tail of one 0xff'],
  ])('sign-extends tail bytes >= 0x80 like Java: %s (%s)', (hex) => {
    const key = fromHex(hex);
    const want = BigInt(vector(hex).token);
    expect(murmur3Token(key)).toBe(want);
    // The vector really tells the two apart: the reference (unsigned) tail gives another token.
    expect(oracleToken(key, false)).not.toBe(want);
  });

  // Keys that are whole 16-byte blocks: no tail, so bytes >= 0x80 are read unsigned.
  it.each([
    ['b90820d042ac1fb2f96d873c5629b7b3', 'one block'],
    ['ff'.repeat(16), 'one block of 0xff'],
    ['ff'.repeat(32), 'two blocks of 0xff'],
  ])('reads full 16-byte blocks as unsigned bytes: %s (%s)', (hex) => {
    const key = fromHex(hex);
    expect(key.length % 16).toBe(0);
    expect(murmur3Token(key)).toBe(BigInt(vector(hex).token));
  });

  it('gives keys of 0..40 bytes in-range tokens, equal for equal keys, as the oracle does', () => {
    const random = new Prng(20250611);
    for (let length = 0; length <= 40; length++) {
      for (let round = 0; round < 20; round++) {
        const key = random.bytes(length);
        const token = murmur3Token(key);
        expect(token >= TOKEN_MIN + 1n && token <= TOKEN_MAX, `${length}: ${token}`).toBe(true);
        expect(token).toBe(oracleToken(key));
        // The same bytes in another buffer, at an odd offset, give the same token.
        const elsewhere = new Uint8Array(length + 3);
        elsewhere.set(key, 3);
        expect(murmur3Token(elsewhere.subarray(3))).toBe(token);
        expect(murmur3Token(key)).toBe(token);
      }
    }
  });
});

describe('tokenFromWords', () => {
  it('maps the ring minimum -2^63 to 2^63 - 1 and leaves every other value alone', () => {
    expect(TOKEN_MIN).toBe(-9223372036854775808n);
    expect(TOKEN_MAX).toBe(9223372036854775807n);
    expect(tokenFromWords(0x8000_0000, 0)).toBe(TOKEN_MAX);
    expect(tokenFromWords(-0x8000_0000, 0)).toBe(TOKEN_MAX);
    expect(tokenFromWords(0x8000_0000, 1)).toBe(TOKEN_MIN + 1n);
    expect(tokenFromWords(0x7fff_ffff, 0xffff_ffff)).toBe(TOKEN_MAX);
    expect(tokenFromWords(0xffff_ffff, 0xffff_ffff)).toBe(-1n);
    expect(tokenFromWords(0, 0)).toBe(0n);
    expect(tokenFromWords(1, 2)).toBe(0x1_0000_0002n);
  });
});
