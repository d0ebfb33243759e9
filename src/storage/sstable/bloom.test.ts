import { describe, expect, it } from 'vitest';
import { utf8 } from '../../util/bytes.js';
import { Prng } from '../../util/prng.js';
import { BloomBuilder, BloomFilter, bloomProbes, murmur3 } from './bloom.js';

describe('murmur3', () => {
  it('matches MurmurHash3_x86_32 reference vectors', () => {
    expect(murmur3(new Uint8Array(0), 0)).toBe(0);
    expect(murmur3(new Uint8Array(0), 1)).toBe(0x514e28b7);
    expect(murmur3(new Uint8Array(0), 0xffffffff)).toBe(0x81f16f39);
    expect(murmur3(Uint8Array.of(0xff, 0xff, 0xff, 0xff), 0)).toBe(0x76293b50);
    expect(murmur3(Uint8Array.of(0x21, 0x43, 0x65, 0x87), 0)).toBe(0xf55b516b);
    expect(murmur3(Uint8Array.of(0x21, 0x43, 0x65, 0x87), 0x5082edee)).toBe(0x2362f9de);
    expect(murmur3(Uint8Array.of(0x21, 0x43, 0x65), 0)).toBe(0x7e4a8634);
    expect(murmur3(Uint8Array.of(0x21, 0x43), 0)).toBe(0xa0f7b07a);
    expect(murmur3(Uint8Array.of(0x21), 0)).toBe(0x72661cf4);
    expect(murmur3(utf8('Hello, world!'), 1234)).toBe(0xfaf6cdb3);
    expect(murmur3(utf8('The quick brown fox jumps over the lazy dog'), 0x9747b28c)).toBe(
      0x2fa826cd,
    );
  });
});

describe('bloom filter', () => {
  it('uses k = round(bits * ln 2) probes', () => {
    expect(bloomProbes(10)).toBe(7);
    expect(bloomProbes(1)).toBe(1);
    expect(bloomProbes(64)).toBe(30);
  });

  function build(keys: readonly Uint8Array[], bitsPerKey = 10): BloomFilter {
    const b = new BloomBuilder(bitsPerKey);
    for (const k of keys) b.add(k);
    return BloomFilter.parse(b.finish(), 'test', 0);
  }

  it('has no false negatives and about 1% false positives at 10 bits per key', () => {
    const prng = new Prng(1);
    for (const n of [1, 10, 1000, 10_000, 100_000]) {
      const keys = Array.from({ length: n }, (_, i) => utf8(`row-${i}-${prng.uint32()}`));
      const f = build(keys);
      for (const k of keys) expect(f.mayContain(k)).toBe(true);
      if (n < 1000) continue;
      let fp = 0;
      const trials = 10_000;
      for (let i = 0; i < trials; i++) fp += f.mayContain(utf8(`absent-${i}`)) ? 1 : 0;
      const rate = fp / trials;
      expect(rate).toBeGreaterThan(0.002);
      expect(rate).toBeLessThan(0.025);
    }
  });

  it('gets sharper with more bits per key', () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => utf8(`k${i}`));
    const rate = (bits: number) => {
      const f = build(keys, bits);
      let fp = 0;
      for (let i = 0; i < 20_000; i++) fp += f.mayContain(utf8(`x${i}`)) ? 1 : 0;
      return fp / 20_000;
    };
    expect(rate(4)).toBeGreaterThan(rate(10));
    expect(rate(20)).toBeLessThan(0.001);
  });

  it('handles short keys and tiny filters (at least 64 bits)', () => {
    const f = build([new Uint8Array(0), Uint8Array.of(1)]);
    expect(f.byteLength).toBe(9);
    expect(f.mayContain(new Uint8Array(0))).toBe(true);
    expect(f.mayContain(Uint8Array.of(1))).toBe(true);
  });

  it('rejects a malformed filter block', () => {
    expect(() => BloomFilter.parse(Uint8Array.of(0), 'f.sst', 10)).toThrow(/offset 10 of f.sst/);
    expect(() => BloomFilter.parse(Uint8Array.of(0, 0, 31), 'f.sst', 10)).toThrow(/filter/);
    expect(() => BloomFilter.parse(Uint8Array.of(0, 0, 0), 'f.sst', 10)).toThrow(/filter/);
  });
});
