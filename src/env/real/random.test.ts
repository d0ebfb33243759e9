import { describe, expect, it } from 'vitest';
import { isTesseraError } from '../../util/errors.js';
import { entropySeed, realRandom } from './random.js';

describe('realRandom', () => {
  it('repeats its stream for a given seed', () => {
    const a = realRandom(42);
    const b = realRandom(42);
    for (let i = 0; i < 100; i++) expect(a.uint32()).toBe(b.uint32());
    expect(a.fork().bytes(16)).toEqual(b.fork().bytes(16));
  });

  it('seeds from entropy by default', () => {
    const seeds = new Set(Array.from({ length: 20 }, () => entropySeed()));
    expect(seeds.size).toBe(20);
    for (const s of seeds) expect(Number.isSafeInteger(s) && s >= 0).toBe(true);
  });

  it('refuses a seed that is not a safe integer', () => {
    for (const bad of [1.5, NaN, 2 ** 60]) {
      let err: unknown;
      try {
        realRandom(bad);
      } catch (e) {
        err = e;
      }
      expect(isTesseraError(err, 'INVALID_ARGUMENT')).toBe(true);
    }
  });

  it('keeps values in the documented ranges', () => {
    const r = realRandom();
    for (let i = 0; i < 1000; i++) {
      const f = r.float();
      expect(f >= 0 && f < 1).toBe(true);
      const n = r.between(-3, 3);
      expect(n >= -3 && n <= 3 && Number.isInteger(n)).toBe(true);
    }
  });
});
