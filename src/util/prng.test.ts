import { describe, expect, it } from 'vitest';
import { Prng } from './prng.js';

describe('Prng', () => {
  it('is a pure function of its seed', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    for (let i = 0; i < 1000; i++) expect(a.uint32()).toBe(b.uint32());
  });

  it('differs between nearby seeds and between high-bit seeds', () => {
    const first = (seed: number) => new Prng(seed).uint32();
    expect(first(7)).not.toBe(first(8));
    expect(first(2 ** 40)).not.toBe(first(2 ** 40 + 2 ** 33));
  });

  it('int(n) stays in range and covers it roughly uniformly', () => {
    const r = new Prng(1);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) counts[r.int(10)]!++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(600);
  });

  it('float() is in [0, 1) with mean near 1/2', () => {
    const r = new Prng(3);
    let sum = 0;
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = r.float();
      if (!(x >= 0 && x < 1)) outside++;
      sum += x;
    }
    expect(outside).toBe(0);
    expect(Math.abs(sum / 100_000 - 0.5)).toBeLessThan(0.01);
  });

  it('fork() gives an independent, reproducible stream', () => {
    const a = new Prng(9).fork();
    const b = new Prng(9).fork();
    expect(a.uint32()).toBe(b.uint32());
    expect(new Prng(9).fork().uint32()).not.toBe(new Prng(9).uint32());
  });

  it('rejects bad arguments', () => {
    expect(() => new Prng(1.5)).toThrow(RangeError);
    expect(() => new Prng(1).int(0)).toThrow(RangeError);
  });
});
