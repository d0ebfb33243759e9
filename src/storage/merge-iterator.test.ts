import { describe, expect, it } from 'vitest';
import { compareBytes, toHex } from '../util/bytes.js';
import { isTesseraError } from '../util/errors.js';
import { Prng } from '../util/prng.js';
import type { EntryIterator, Step } from './iterator.js';
import { Memtable } from './memtable/index.js';
import { MergingIterator } from './merge-iterator.js';

interface Entry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

function lowerBound(entries: readonly Entry[], target: Uint8Array): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareBytes(entries[mid]!.key, target) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Counts every Promise any fake child returns, so a test can tell whether one was awaited. */
const asyncMoves = { count: 0 };

/**
 * An EntryIterator over a sorted array. With `asyncChance` > 0 its moves return a Promise at
 * random and take effect only when it settles (like an SSTable on a cache miss); touching it
 * meanwhile throws, so a merge that does not await it is caught. `failOn` makes the n-th move
 * fail (synchronously or by rejection); an async move settles after up to `ticksMax` microtasks.
 */
class ArrayIterator implements EntryIterator {
  private pos = -1;
  private inFlight = false;
  private moves = 0;
  closed = false;

  constructor(
    private readonly entries: readonly Entry[],
    private readonly p: Prng,
    private readonly asyncChance = 0,
    private readonly failOn = -1,
    private readonly ticksMax = 3,
  ) {}

  valid(): boolean {
    this.checkIdle();
    return this.pos >= 0 && this.pos < this.entries.length;
  }

  key(): Uint8Array {
    expect(this.valid()).toBe(true);
    return this.entries[this.pos]!.key;
  }

  value(): Uint8Array {
    expect(this.valid()).toBe(true);
    return this.entries[this.pos]!.value;
  }

  seekToFirst(): Step {
    return this.move(() => 0);
  }

  seek(target: Uint8Array): Step {
    return this.move(() => lowerBound(this.entries, target));
  }

  next(): Step {
    expect(this.valid()).toBe(true);
    return this.move(() => this.pos + 1);
  }

  close(): void {
    this.closed = true;
  }

  private checkIdle(): void {
    if (this.inFlight) throw new Error('child touched while its move is in flight');
    if (this.closed) throw new Error('child used after close');
  }

  private move(to: () => number): Step {
    this.checkIdle();
    const fail = this.moves++ === this.failOn;
    const dest = to();
    if (!(this.asyncChance > 0 && this.p.chance(this.asyncChance))) {
      if (fail) throw new Error('sync child failure');
      this.pos = dest;
      return undefined;
    }
    asyncMoves.count++;
    this.inFlight = true;
    this.pos = -1;
    const ticks = this.p.int(this.ticksMax + 1);
    return (async () => {
      for (let i = 0; i < ticks; i++) await Promise.resolve();
      this.inFlight = false;
      if (fail) throw new Error('async child failure');
      this.pos = dest;
    })();
  }
}

/** Runs a Step, recording whether it was a Promise. */
async function run(step: Step, log: { promises: number }): Promise<void> {
  if (step) {
    log.promises++;
    await step;
  }
}

async function drain(
  it: EntryIterator,
  limit: number,
  log: { promises: number },
): Promise<string[]> {
  const out: string[] = [];
  while (it.valid() && out.length < limit) {
    out.push(`${toHex(it.key())}=${toHex(it.value())}`);
    await run(it.next(), log);
  }
  return out;
}

function show(entries: readonly Entry[]): string[] {
  return entries.map((e) => `${toHex(e.key)}=${toHex(e.value)}`);
}

type ChildKind = 'memtable' | 'sync' | 'async';

interface Setup {
  readonly merge: MergingIterator;
  readonly model: Entry[];
  readonly children: EntryIterator[];
}

function setup(p: Prng, kinds: readonly ChildKind[]): Setup {
  const unique = new Map<string, Entry>();
  const total = kinds.length === 0 ? 0 : p.int(300);
  for (let i = 0; i < total; i++) {
    const key = p.bytes(p.int(3) === 0 ? p.int(4) : p.between(8, 40));
    unique.set(toHex(key), { key, value: p.bytes(p.int(8)) });
  }
  const all = [...unique.values()];
  const parts: Entry[][] = kinds.map(() => []);
  // Skewed: some children get most entries, some few or none.
  const weights = kinds.map(() => p.int(5));
  const weightSum = weights.reduce((a, b) => a + b, 0);
  for (const e of all) {
    let r = p.int(weightSum + kinds.length);
    let c = 0;
    while (c < kinds.length - 1 && r >= weights[c]! + 1) r -= weights[c++]! + 1;
    parts[c]!.push(e);
  }
  const children = kinds.map((kind, i): EntryIterator => {
    const entries = parts[i]!.sort((a, b) => compareBytes(a.key, b.key));
    if (kind === 'memtable') {
      const mem = new Memtable(p.fork());
      for (const e of p.shuffle(entries.slice())) mem.add(e.key, e.value);
      return mem.iterator();
    }
    return new ArrayIterator(entries, p.fork(), kind === 'async' ? 0.5 : 0);
  });
  return {
    merge: new MergingIterator(children),
    model: all.sort((a, b) => compareBytes(a.key, b.key)),
    children,
  };
}

function randomKinds(p: Prng): ChildKind[] {
  const kinds: ChildKind[] = ['memtable', 'sync', 'async'];
  return Array.from({ length: p.int(7) }, () => p.pick(kinds));
}

describe('MergingIterator', () => {
  it('yields the sorted union from seekToFirst and from random seeks (many seeds)', async () => {
    for (let seed = 1; seed <= 300; seed++) {
      const p = new Prng(seed);
      const kinds = randomKinds(p);
      const { merge, model } = setup(p, kinds);
      const anyAsync = kinds.includes('async');
      const log = { promises: 0 };
      expect(merge.valid()).toBe(false);

      await run(merge.seekToFirst(), log);
      expect(await drain(merge, Infinity, log)).toEqual(show(model));
      expect(merge.valid()).toBe(false);

      for (let s = 0; s < 30; s++) {
        const target =
          model.length > 0 && p.chance(0.4) ? p.pick(model).key : p.bytes(p.int(3) * 10);
        await run(merge.seek(target), log);
        const from = lowerBound(model, target);
        const steps = p.int(12);
        expect(await drain(merge, steps, log)).toEqual(show(model.slice(from, from + steps)));
        if (from + steps >= model.length) expect(merge.valid()).toBe(false);
      }
      if (!anyAsync) expect(log.promises).toBe(0);
      merge.close();
    }
  });

  it('seekForward lands where seek would, moving only the children behind the target', async () => {
    for (let seed = 1; seed <= 200; seed++) {
      const p = new Prng(3000 + seed);
      const kinds = randomKinds(p);
      const { merge, model, children } = setup(p, kinds);
      const log = { promises: 0 };
      await run(merge.seekToFirst(), log);
      let pos = 0; // index in model of the merge's current entry
      while (pos < model.length) {
        // A target at or after the current key: an existing key, or one between two keys.
        const at = pos + p.int(Math.min(20, model.length - pos + 1));
        const base = at < model.length ? model[at]!.key : p.bytes(40).fill(0xff);
        const target = p.chance(0.5) ? base : base.subarray(0, Math.max(1, base.length - 1));
        if (compareBytes(target, model[pos]!.key) < 0) continue;
        // Children already at or past the target keep their place (the very same key view);
        // a lone child is passed straight through, and seeks.
        const ahead = children.map((c) =>
          children.length > 1 && c.valid() && compareBytes(c.key(), target) >= 0
            ? c.key()
            : undefined,
        );
        await run(merge.seekForward(target), log);
        pos = lowerBound(model, target);
        children.forEach((c, i) => {
          if (ahead[i] !== undefined) expect(c.key()).toBe(ahead[i]);
        });
        const steps = p.int(4);
        expect(await drain(merge, steps, log)).toEqual(show(model.slice(pos, pos + steps)));
        pos = Math.min(model.length, pos + steps);
        if (pos >= model.length) expect(merge.valid()).toBe(false);
      }
      merge.close();
    }
  });

  it('positioned() merges children the caller already positioned, without moving them', async () => {
    for (let seed = 1; seed <= 100; seed++) {
      const p = new Prng(4000 + seed);
      const { model, children } = setup(p, randomKinds(p));
      const target = model.length > 0 && p.chance(0.5) ? p.pick(model).key : p.bytes(10);
      for (const c of children) {
        const step = c.seek(target);
        if (step) await step;
      }
      const merge = MergingIterator.positioned(children);
      const from = lowerBound(model, target);
      expect(await drain(merge, Infinity, { promises: 0 })).toEqual(show(model.slice(from)));
      merge.close();
    }
  });

  it('returns a Promise from a move exactly when a child it moved did', async () => {
    for (let seed = 1; seed <= 60; seed++) {
      const p = new Prng(1000 + seed);
      const { merge, model } = setup(p, ['async', 'memtable', 'sync', 'async']);
      const check = async (move: () => Step): Promise<void> => {
        const before = asyncMoves.count;
        const step = move();
        expect(step instanceof Promise).toBe(asyncMoves.count !== before);
        if (step) await step;
      };
      await check(() => merge.seekToFirst());
      let n = 0;
      while (merge.valid()) {
        await check(() => merge.next());
        n++;
      }
      expect(n).toBe(model.length);
      await check(() => merge.seek(p.bytes(2)));
      merge.close();
    }
  });

  it('passes straight through with one child, and is empty with none', async () => {
    const p = new Prng(5);
    const entries = [1, 2, 3].map((b) => ({ key: Uint8Array.of(b), value: Uint8Array.of(b) }));
    const none = new MergingIterator([]);
    expect(none.seekToFirst()).toBeUndefined();
    expect(none.valid()).toBe(false);
    expect(none.seek(Uint8Array.of(0))).toBeUndefined();
    expect(none.valid()).toBe(false);
    none.close();

    const log = { promises: 0 };
    const one = new MergingIterator([new ArrayIterator(entries, p.fork(), 1)]);
    await run(one.seek(Uint8Array.of(2)), log);
    expect(await drain(one, Infinity, log)).toEqual(show(entries.slice(1)));
    expect(log.promises).toBe(3); // every move of that child is async and passes through

    const mem = new Memtable(p.fork());
    for (const e of entries) mem.add(e.key, e.value);
    const oneSync = new MergingIterator([mem.iterator()]);
    expect(oneSync.seekToFirst()).toBeUndefined();
    expect(toHex(oneSync.key())).toBe('01');
    expect(oneSync.next()).toBeUndefined();
    expect(toHex(oneSync.value())).toBe('02');
    oneSync.close();
  });

  it('breaks ties by child index, lower first, and yields both entries', async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const p = new Prng(seed);
      const width = p.between(2, 9);
      const keys = [1, 2, 3, 4];
      // Child c holds each key with probability 3/4, its value naming the child.
      const children = Array.from({ length: width }, (_, c) => {
        const entries = keys
          .filter(() => p.chance(0.75))
          .map((k) => ({ key: Uint8Array.of(k), value: Uint8Array.of(c) }));
        return { entries, it: new ArrayIterator(entries, p.fork(), p.chance(0.5) ? 0.5 : 0) };
      });
      const want: string[] = [];
      for (const k of keys) {
        children.forEach((c, i) => {
          if (c.entries.some((e) => e.key[0] === k)) want.push(`0${k}=0${i}`);
        });
      }
      const merge = new MergingIterator(children.map((c) => c.it));
      const log = { promises: 0 };
      await run(merge.seekToFirst(), log);
      expect(await drain(merge, Infinity, log)).toEqual(want);
    }
  });

  it('reports a child failure, waits for every other child, and recovers on the next seek', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      for (const failOn of [0, 1, 3]) {
        const p = new Prng(seed * 10 + failOn);
        const e = (k: number): Entry => ({ key: Uint8Array.of(k), value: Uint8Array.of(k) });
        const failing = new ArrayIterator([e(1), e(3), e(5)], p.fork(), 0.5, failOn);
        const slow = new ArrayIterator([e(2), e(4), e(6)], p.fork(), 1, -1, 50);
        const merge = new MergingIterator([failing, slow]);
        const log = { promises: 0 };
        let error: unknown;
        try {
          await run(merge.seekToFirst(), log);
          for (let i = 0; i < 6; i++) await run(merge.next(), log);
        } catch (err) {
          error = err;
          // No child is left mid-move when the caller sees the error.
          expect(() => slow.valid()).not.toThrow();
        }
        expect(String(error)).toMatch(/child failure/);
        expect(merge.valid()).toBe(false);
        await run(merge.seek(Uint8Array.of(3)), log);
        expect(await drain(merge, Infinity, log)).toEqual(['03=03', '04=04', '05=05', '06=06']);
      }
    }
  });

  it('asserts when moved before its previous Step settled', async () => {
    const p = new Prng(8);
    const e = (k: number): Entry => ({ key: Uint8Array.of(k), value: Uint8Array.of(k) });
    const merge = new MergingIterator([
      new ArrayIterator([e(1)], p.fork(), 1),
      new ArrayIterator([e(2)], p.fork(), 1),
    ]);
    const step = merge.seekToFirst();
    expect(step).toBeInstanceOf(Promise);
    let error: unknown;
    try {
      merge.seek(Uint8Array.of(0));
    } catch (err) {
      error = err;
    }
    expect(isTesseraError(error, 'ASSERTION_FAILED')).toBe(true);
    await step;
    expect(toHex(merge.key())).toBe('01');
  });

  it('close() closes every child once, even when one throws', () => {
    const p = new Prng(9);
    const a = new ArrayIterator([], p.fork());
    const b = new ArrayIterator([], p.fork());
    b.close = () => {
      throw new Error('close failed');
    };
    const c = new ArrayIterator([], p.fork());
    const merge = new MergingIterator([a, b, c]);
    expect(() => merge.close()).toThrow('close failed');
    expect(a.closed && c.closed).toBe(true);
    merge.close(); // idempotent: does not reach the children again
    let error: unknown;
    try {
      merge.seekToFirst();
    } catch (err) {
      error = err;
    }
    expect(isTesseraError(error, 'ASSERTION_FAILED')).toBe(true);
  });
});
