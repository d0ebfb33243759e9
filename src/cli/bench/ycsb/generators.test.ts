import { describe, expect, it } from 'vitest';
import { Prng } from '../../../util/prng.js';
import {
  AcknowledgedCounterGenerator,
  CounterGenerator,
  DiscreteGenerator,
  fieldValue,
  fnvhash64,
  keyName,
  ScrambledZipfianGenerator,
  SkewedLatestGenerator,
  UniformGenerator,
  zeta,
  ZipfianGenerator,
  SCRAMBLED_ITEM_COUNT,
  SCRAMBLED_ZETAN,
} from './generators.js';

const draws = 200_000;

describe('ZipfianGenerator', () => {
  it('draws item i with frequency falling like 1/i^0.99', () => {
    const items = 1000;
    const gen = new ZipfianGenerator(new Prng(7), 0, items - 1);
    const counts = new Array<number>(items).fill(0);
    for (let i = 0; i < draws; i++) counts[gen.nextValue()]!++;
    expect(counts.length).toBe(items); // no draw fell outside [0, items)
    const zetan = zeta(0, items, 0.99, 0);
    // The two head items are exact in Gray et al.'s method; the rest follow the continuous
    // approximation, so compare the head tightly and coarser buckets of the tail.
    for (const rank of [0, 1]) {
      const expected = draws / Math.pow(rank + 1, 0.99) / zetan;
      expect(Math.abs(counts[rank]! - expected) / expected).toBeLessThan(0.03);
    }
    for (const [lo, hi] of [
      [10, 20],
      [100, 200],
      [500, 1000],
    ] as const) {
      const expected = (draws * (zeta(lo, hi, 0.99, 0) as number)) / zetan;
      const seen = counts.slice(lo, hi).reduce((a, b) => a + b, 0);
      expect(Math.abs(seen - expected) / expected).toBeLessThan(0.1);
    }
  });

  it('is a pure function of its seed', () => {
    const a = new ZipfianGenerator(new Prng(3), 0, 99);
    const b = new ZipfianGenerator(new Prng(3), 0, 99);
    const seq = (g: ZipfianGenerator) => Array.from({ length: 50 }, () => g.nextValue());
    expect(seq(a)).toEqual(seq(b));
  });

  it('grows zeta incrementally when nextLong asks for more items', () => {
    const gen = new ZipfianGenerator(new Prng(1), 0, 99);
    for (let i = 0; i < 10_000; i++) expect(gen.nextLong(200)).toBeLessThan(200);
  });

  it('keeps YCSB’s precomputed zeta for the scrambled generator', () => {
    // zeta(1e10 + 1) is too slow to sum here; check the constant against zeta's tail bound.
    expect(SCRAMBLED_ZETAN).toBeGreaterThan(zeta(0, 1_000_000, 0.99, 0));
    expect(SCRAMBLED_ITEM_COUNT).toBe(1e10);
  });
});

describe('fnvhash64 and key names', () => {
  it('matches YCSB’s Utils.fnvhash64', () => {
    // Reference values from an independent implementation of the Java code (signed 64-bit, abs).
    expect(fnvhash64(0)).toBe(6284781860667377211n);
    expect(keyName(0)).toBe('user6284781860667377211');
    expect(fnvhash64(1)).toBe(8517097267634966620n);
    expect(fnvhash64(12345)).toBe(1792800413050876852n);
  });
});

describe('ScrambledZipfianGenerator', () => {
  it('stays in [min, max] and is skewed', () => {
    const gen = new ScrambledZipfianGenerator(new Prng(11), 100, 1099);
    const counts = new Map<number, number>();
    for (let i = 0; i < draws; i++) {
      const v = gen.nextValue();
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    expect(Math.min(...counts.keys())).toBeGreaterThanOrEqual(100);
    expect(Math.max(...counts.keys())).toBeLessThanOrEqual(1099);
    const top = Math.max(...counts.values());
    expect(top / draws).toBeGreaterThan(0.02); // a uniform draw would give each key 0.1%
  });
});

describe('SkewedLatestGenerator', () => {
  it('favours the most recently acknowledged keys', () => {
    const basis = new AcknowledgedCounterGenerator(1000);
    const gen = new SkewedLatestGenerator(new Prng(5), basis);
    let recent = 0;
    let [lo, hi] = [Infinity, -Infinity];
    for (let i = 0; i < 100_000; i++) {
      const v = gen.nextValue();
      [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
      if (v >= basis.lastValue() - 10) recent++;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(basis.lastValue());
    expect(recent / 100_000).toBeGreaterThan(0.3); // 11 keys of 1000
    for (let k = 1000; k < 1010; k++) basis.acknowledge(basis.nextValue());
    expect(basis.lastValue()).toBe(1009);
    let newest = 0;
    for (let i = 0; i < 10_000; i++) if (gen.nextValue() >= 1000) newest++;
    expect(newest / 10_000).toBeGreaterThan(0.3);
  });
});

describe('AcknowledgedCounterGenerator', () => {
  it('advances lastValue only over contiguous acknowledgements', () => {
    const c = new AcknowledgedCounterGenerator(10);
    expect(c.lastValue()).toBe(9);
    const [a, b, d] = [c.nextValue(), c.nextValue(), c.nextValue()];
    c.acknowledge(b);
    expect(c.lastValue()).toBe(9);
    c.acknowledge(a);
    expect(c.lastValue()).toBe(11);
    c.acknowledge(d);
    expect(c.lastValue()).toBe(12);
  });

  it('CounterGenerator counts up from its start', () => {
    const c = new CounterGenerator(5);
    expect([c.nextValue(), c.nextValue(), c.lastValue()]).toEqual([5, 6, 6]);
  });
});

describe('UniformGenerator', () => {
  it('draws scan lengths over 1..100 evenly', () => {
    const gen = new UniformGenerator(new Prng(9), 1, 100);
    const counts = new Array<number>(101).fill(0);
    for (let i = 0; i < draws; i++) counts[gen.nextValue()]!++;
    expect(counts[0]).toBe(0);
    for (let len = 1; len <= 100; len++) {
      expect(Math.abs(counts[len]! - draws / 100) / (draws / 100)).toBeLessThan(0.1);
    }
  });
});

describe('fieldValue', () => {
  it('is 100 printable bytes in [32, 95]', () => {
    const v = fieldValue(new Prng(2));
    expect(v.length).toBe(100);
    for (const b of v) expect(b >= 32 && b <= 95).toBe(true);
  });
});

describe('DiscreteGenerator', () => {
  it('picks labels in proportion to their weights', () => {
    const gen = new DiscreteGenerator(new Prng(4), [
      ['x', 0.25],
      ['y', 0.75],
    ] as const);
    let x = 0;
    for (let i = 0; i < 100_000; i++) if (gen.next() === 'x') x++;
    expect(Math.abs(x / 100_000 - 0.25)).toBeLessThan(0.01);
  });
});
