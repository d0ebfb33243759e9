import { describe, expect, it } from 'vitest';
import { Prng } from '../../util/prng.js';
import { BlockCache } from './lru-cache.js';

describe('BlockCache', () => {
  it('hits, misses and counts', () => {
    const c = new BlockCache(100);
    expect(c.get(1, 0)).toBeUndefined();
    c.insert(1, 0, 'a', 10);
    c.insert(1, 4096, 'b', 10);
    c.insert(2, 0, 'c', 10);
    expect(c.get(1, 0)).toBe('a');
    expect(c.get(2, 0)).toBe('c');
    expect(c.get(2, 4096)).toBeUndefined();
    expect(c.hits).toBe(2);
    expect(c.misses).toBe(2);
    expect(c.usageBytes).toBe(30);
    expect(c.entries).toBe(3);
  });

  it('evicts the least recently used entries to stay within capacity', () => {
    const c = new BlockCache(30);
    c.insert(1, 0, 'a', 10);
    c.insert(1, 1, 'b', 10);
    c.insert(1, 2, 'c', 10);
    c.get(1, 0); // a is now the most recent; b the least
    c.insert(1, 3, 'd', 10);
    expect(c.get(1, 1)).toBeUndefined();
    expect(c.get(1, 0)).toBe('a');
    expect(c.get(1, 2)).toBe('c');
    expect(c.get(1, 3)).toBe('d');
    expect(c.evictions).toBe(1);
    c.insert(1, 4, 'big', 25); // pushes out all but one older entry
    expect(c.usageBytes).toBeLessThanOrEqual(30);
    expect(c.get(1, 4)).toBe('big');
    expect(c.entries).toBe(1);
  });

  it('does not cache entries larger than the capacity, and replaces by key', () => {
    const c = new BlockCache(10);
    c.insert(1, 0, 'a', 5);
    c.insert(1, 1, 'huge', 11);
    expect(c.get(1, 1)).toBeUndefined();
    expect(c.get(1, 0)).toBe('a');
    c.insert(1, 0, 'a2', 7);
    expect(c.get(1, 0)).toBe('a2');
    expect(c.usageBytes).toBe(7);
    c.insert(1, 0, 'a3', 11); // too big: the old entry goes too
    expect(c.get(1, 0)).toBeUndefined();
    expect(c.usageBytes).toBe(0);
    const none = new BlockCache(0);
    none.insert(1, 0, 'x', 1);
    expect(none.get(1, 0)).toBeUndefined();
  });

  it('evicts a whole file', () => {
    const c = new BlockCache(1000);
    for (let i = 0; i < 10; i++) c.insert(1, i, i, 10);
    for (let i = 0; i < 5; i++) c.insert(2, i, i, 10);
    c.evictFile(1);
    c.evictFile(3);
    expect(c.usageBytes).toBe(50);
    expect(c.entries).toBe(5);
    expect(c.get(1, 3)).toBeUndefined();
    expect(c.get(2, 3)).toBe(3);
    c.clear();
    expect(c.usageBytes).toBe(0);
  });

  it('matches a reference model under random operations', () => {
    const prng = new Prng(4);
    const capacity = 500;
    const c = new BlockCache(capacity);
    // The model: entries in recency order, oldest first.
    let model: { f: number; o: number; v: number; charge: number }[] = [];
    for (let step = 0; step < 20_000; step++) {
      const f = prng.int(4);
      const o = prng.int(20);
      const op = prng.int(10);
      const at = model.findIndex((e) => e.f === f && e.o === o);
      if (op < 5) {
        const got = c.get(f, o);
        if (at < 0) {
          expect(got).toBeUndefined();
        } else {
          expect(got).toBe(model[at]!.v);
          model.push(model.splice(at, 1)[0]!);
        }
      } else if (op < 9) {
        const charge = prng.between(0, 120);
        if (at >= 0) model.splice(at, 1);
        if (charge <= capacity) model.push({ f, o, v: step, charge });
        c.insert(f, o, step, charge);
        let usage = model.reduce((n, e) => n + e.charge, 0);
        while (usage > capacity) usage -= model.shift()!.charge;
      } else {
        c.evictFile(f);
        model = model.filter((e) => e.f !== f);
      }
      expect(c.usageBytes).toBe(model.reduce((n, e) => n + e.charge, 0));
      expect(c.entries).toBe(model.length);
    }
  });
});
