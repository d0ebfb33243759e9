import { describe, expect, it } from 'vitest';
import { utf8 } from './bytes.js';
import { crc32c, maskCrc, unmaskCrc } from './crc32c.js';
import { Prng } from './prng.js';

describe('crc32c', () => {
  it('matches the standard check value for "123456789"', () => {
    expect(crc32c(utf8('123456789'))).toBe(0xe3069283);
  });

  it('matches published vectors (RFC 3720 appendix B.4)', () => {
    expect(crc32c(new Uint8Array(0))).toBe(0);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    const ascending = Uint8Array.from({ length: 32 }, (_, i) => i);
    expect(crc32c(ascending)).toBe(0x46dd794e);
  });

  it('is unsigned and continues across pieces through the seed', () => {
    const prng = new Prng(7);
    for (let i = 0; i < 200; i++) {
      const data = prng.bytes(prng.between(0, 300));
      const cut = prng.between(0, data.length);
      const whole = crc32c(data);
      expect(whole).toBeGreaterThanOrEqual(0);
      expect(whole).toBeLessThanOrEqual(0xffff_ffff);
      expect(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut)))).toBe(whole);
    }
  });
});

describe('maskCrc / unmaskCrc', () => {
  it('round-trips and changes the value', () => {
    const prng = new Prng(11);
    for (const c of [0, 1, 0xffff_ffff, 0xe3069283, 0x8000_0000]) {
      expect(unmaskCrc(maskCrc(c))).toBe(c);
    }
    for (let i = 0; i < 1000; i++) {
      const c = prng.uint32();
      const m = maskCrc(c);
      expect(m).toBeGreaterThanOrEqual(0);
      expect(m).toBeLessThanOrEqual(0xffff_ffff);
      expect(unmaskCrc(m)).toBe(c);
    }
    expect(maskCrc(0xe3069283)).not.toBe(0xe3069283);
  });

  it('matches LevelDB: rotate right by 15, then add 0xa282ead8 mod 2^32', () => {
    // Rotating 0x00008000 right by 15 gives 1.
    expect(maskCrc(0x0000_8000)).toBe(0xa282ead9);
    expect(maskCrc(0)).toBe(0xa282ead8);
    // All ones rotate to all ones; the addition wraps modulo 2^32.
    expect(maskCrc(0xffff_ffff)).toBe((0xffff_ffff + 0xa282ead8) % 0x1_0000_0000);
  });
});
