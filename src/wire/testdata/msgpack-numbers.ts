/**
 * Numbers on every boundary between msgpack's number formats, and some that are none (NaN,
 * infinities, -0, floats, integers past 32 bits): the fast encoder and decoder tests
 * (flat-pack.test.ts, flat-unpack.test.ts) both check them against msgpackr.
 */
import type { Prng } from '../../util/prng.js';

export const msgpackBoundaryNumbers: readonly number[] = [
  0,
  1,
  0x7f,
  0x80,
  0xff,
  0x100,
  0xffff,
  0x10000,
  0xffff_ffff,
  0x1_0000_0000,
  -1,
  -0x20,
  -0x21,
  -0x80,
  -0x81,
  -0x8000,
  -0x8001,
  -0x8000_0000,
  -0x8000_0001,
  1.5,
  -2.25,
  Number.NaN,
  Infinity,
  -Infinity,
  -0,
  1_764_000_000_000_000,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
];

/** A random ASCII string of at most `maxChars` characters. */
export function randomAscii(p: Prng, maxChars: number): string {
  let s = '';
  for (let n = p.int(maxChars + 1); n > 0; n--) s += String.fromCharCode(p.int(0x80));
  return s;
}
