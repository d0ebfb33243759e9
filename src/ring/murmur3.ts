/**
 * The token Apache Cassandra's Murmur3Partitioner gives a partition key, so that a Tessera
 * hashed table places (and a Cassandra-aware client routes) every key exactly where
 * Cassandra would.
 *
 * The token is MurmurHash3 x64_128 with seed 0, keeping only the first 64-bit half (h1) read
 * as a signed 64-bit integer. Two things differ from the reference C implementation
 * (Austin Appleby's MurmurHash3.cpp), and both are needed to agree with Cassandra:
 *
 * - Tail bytes are signed. Cassandra's Java port reads the last `length % 16` bytes as Java
 *   `byte`s, which are sign-extended to 64 bits before they are shifted into place. A tail
 *   byte of 0x80 or more therefore sets every bit above itself in its 64-bit lane, and the
 *   hash of such a key differs from the reference one. (The 16-byte blocks are read as
 *   unsigned bytes, as in the reference.) Cassandra cannot fix this without moving every
 *   stored row, so it is part of the format.
 * - -2^63 becomes 2^63 - 1. Long.MIN_VALUE is the ring's minimum token, which stands for "before
 *   every key" and which no key may own, so Cassandra's getToken maps a hash of exactly -2^63
 *   to Long.MAX_VALUE. Tokens therefore lie in [TOKEN_MIN + 1, TOKEN_MAX].
 *
 * This runs on every request to route it, so the 64-bit arithmetic is done on pairs of 32-bit
 * numbers (high word signed or unsigned, low word unsigned) with Math.imul and shifts, and one
 * BigInt is made only at the end. Each 64-bit value is two locals, `xh` and `xl`; helpers
 * return their result through `outHi`/`outLo` to avoid allocating.
 */

/** The ring's minimum token (Long.MIN_VALUE): a ring position before every key, never a key's token. */
export const TOKEN_MIN = -(2n ** 63n);

/** The largest token (Long.MAX_VALUE); also what a hash of exactly TOKEN_MIN becomes. */
export const TOKEN_MAX = 2n ** 63n - 1n;

// The multipliers of MurmurHash3 x64_128, c1 = 0x87c37b91114253d5 and c2 = 0x4cf5ad432745937f,
// split into 32-bit halves.
const c1Hi = 0x87c37b91;
const c1Lo = 0x114253d5;
const c2Hi = 0x4cf5ad43;
const c2Lo = 0x2745937f;
// The fmix64 multipliers 0xff51afd7ed558ccd and 0xc4ceb9fe1a85ec53.
const f1Hi = 0xff51afd7;
const f1Lo = 0xed558ccd;
const f2Hi = 0xc4ceb9fe;
const f2Lo = 0x1a85ec53;

const blockBytes = 16;
const twoPow32 = 0x1_0000_0000;

// Result registers of the helpers below (module-level, so no allocation per call).
let outHi = 0;
let outLo = 0;

/** The low 64 bits of (ah:al) * (bh:bl), into outHi:outLo. */
function mul64(ah: number, al: number, bh: number, bl: number): void {
  // al * bl needs all 64 bits, so it is multiplied in 16-bit limbs (each product fits in a
  // double exactly); the cross terms only matter modulo 2^32, which Math.imul gives.
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  outLo = ((mid << 16) | (p00 & 0xffff)) >>> 0;
  const carry = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  outHi = (carry + Math.imul(al, bh) + Math.imul(ah, bl)) | 0;
}

/** MurmurHash3's mixing of one 64-bit lane: k * c1, rotate left 31, * c2, into outHi:outLo. */
function mixK1(kh: number, kl: number): void {
  mul64(kh, kl, c1Hi, c1Lo);
  const rh = (outHi << 31) | (outLo >>> 1);
  const rl = (outLo << 31) | (outHi >>> 1);
  mul64(rh, rl, c2Hi, c2Lo);
}

/** The same for the second lane: k * c2, rotate left 33, * c1, into outHi:outLo. */
function mixK2(kh: number, kl: number): void {
  mul64(kh, kl, c2Hi, c2Lo);
  // Rotating by 33 is swapping the words and rotating by 1.
  const rh = (outLo << 1) | (outHi >>> 31);
  const rl = (outHi << 1) | (outLo >>> 31);
  mul64(rh, rl, c1Hi, c1Lo);
}

/** x * 5 + (addHi:addLo) modulo 2^64, into outHi:outLo. */
function times5Plus(xh: number, xl: number, addHi: number, addLo: number): void {
  const lo = (xl >>> 0) * 5 + addLo; // < 2^35: exact in a double.
  outLo = lo >>> 0;
  outHi = (Math.imul(xh, 5) + addHi + Math.floor(lo / twoPow32)) | 0;
}

/** MurmurHash3's fmix64 finaliser, into outHi:outLo. */
function fmix64(kh: number, kl: number): void {
  // k ^= k >>> 33 leaves the high word alone and folds it, shifted by 1, into the low word.
  kl = (kl ^ (kh >>> 1)) >>> 0;
  mul64(kh, kl, f1Hi, f1Lo);
  kh = outHi;
  kl = (outLo ^ (outHi >>> 1)) >>> 0;
  mul64(kh, kl, f2Hi, f2Lo);
  outLo = (outLo ^ (outHi >>> 1)) >>> 0;
}

/** The little-endian 32-bit word at key[at..at+4), unsigned. */
function word(key: Uint8Array, at: number): number {
  return (key[at]! | (key[at + 1]! << 8) | (key[at + 2]! << 16) | (key[at + 3]! << 24)) >>> 0;
}

/** The token Cassandra's Murmur3Partitioner assigns to `key`, in [TOKEN_MIN + 1, TOKEN_MAX]. */
export function murmur3Token(key: Uint8Array): bigint {
  const length = key.length;
  const bodyEnd = length - (length % blockBytes);
  let h1h = 0;
  let h1l = 0;
  let h2h = 0;
  let h2l = 0;

  for (let at = 0; at < bodyEnd; at += blockBytes) {
    mixK1(word(key, at + 4), word(key, at));
    h1h ^= outHi;
    h1l ^= outLo;
    // h1 = rotl(h1, 27) + h2, then h1 * 5 + 0x52dce729.
    let th = (h1h << 27) | (h1l >>> 5);
    let tl = ((h1l << 27) | (h1h >>> 5)) >>> 0;
    tl += h2l >>> 0;
    th = (th + h2h + (tl >= twoPow32 ? 1 : 0)) | 0;
    times5Plus(th, tl >>> 0, 0, 0x52dce729);
    h1h = outHi;
    h1l = outLo;

    mixK2(word(key, at + 12), word(key, at + 8));
    h2h ^= outHi;
    h2l ^= outLo;
    // h2 = rotl(h2, 31) + h1, then h2 * 5 + 0x38495ab5.
    th = (h2h << 31) | (h2l >>> 1);
    tl = ((h2l << 31) | (h2h >>> 1)) >>> 0;
    tl += h1l >>> 0;
    th = (th + h1h + (tl >= twoPow32 ? 1 : 0)) | 0;
    times5Plus(th, tl >>> 0, 0, 0x38495ab5);
    h2h = outHi;
    h2l = outLo;
  }

  // The tail, with Cassandra's signed bytes: `sb` is the byte sign-extended to 32 bits; in
  // the low word of its lane its sign spreads to the whole high word (sb >> 31), in the high
  // word it spreads upwards only, which the shift of a sign-extended value already does.
  const tailLength = length - bodyEnd;
  if (tailLength > 0) {
    let k1h = 0;
    let k1l = 0;
    let k2h = 0;
    let k2l = 0;
    for (let i = 0; i < tailLength; i++) {
      const sb = (key[bodyEnd + i]! << 24) >> 24;
      const lane = i & 7;
      if (i < 8) {
        if (lane < 4) {
          k1l ^= sb << (lane * 8);
          k1h ^= sb >> 31;
        } else {
          k1h ^= sb << ((lane - 4) * 8);
        }
      } else if (lane < 4) {
        k2l ^= sb << (lane * 8);
        k2h ^= sb >> 31;
      } else {
        k2h ^= sb << ((lane - 4) * 8);
      }
    }
    if (tailLength > 8) {
      mixK2(k2h, k2l >>> 0);
      h2h ^= outHi;
      h2l ^= outLo;
    }
    mixK1(k1h, k1l >>> 0);
    h1h ^= outHi;
    h1l ^= outLo;
  }

  // Finalisation: h1 ^= len, h2 ^= len, h1 += h2, h2 += h1, fmix both, h1 += h2. (Cassandra
  // XORs the int length into the long, so keys of 2^31 bytes or more would differ; no key is
  // that long.)
  h1l = (h1l ^ length) >>> 0;
  h2l = (h2l ^ length) >>> 0;
  h1l = h1l + (h2l >>> 0);
  h1h = (h1h + h2h + (h1l >= twoPow32 ? 1 : 0)) | 0;
  h1l >>>= 0;
  h2l = (h2l >>> 0) + h1l;
  h2h = (h2h + h1h + (h2l >= twoPow32 ? 1 : 0)) | 0;
  h2l >>>= 0;
  fmix64(h1h, h1l);
  h1h = outHi;
  h1l = outLo;
  fmix64(h2h, h2l);
  h1l = h1l + outLo;
  h1h = (h1h + outHi + (h1l >= twoPow32 ? 1 : 0)) | 0;
  return tokenFromWords(h1h, h1l >>> 0);
}

/**
 * The token whose 64-bit two's complement pattern is hi:lo (hi's sign is ignored, lo is taken
 * unsigned), with Cassandra's normalisation of TOKEN_MIN to TOKEN_MAX. Exported so that the
 * normalisation, which no findable key reaches, can be tested.
 */
export function tokenFromWords(hi: number, lo: number): bigint {
  if ((hi | 0) === -0x8000_0000 && lo >>> 0 === 0) return TOKEN_MAX;
  return (BigInt(hi | 0) << 32n) | BigInt(lo >>> 0);
}
