import { describe, expect, it } from 'vitest';
import { compareBytes, toHex } from '../../util/bytes.js';
import { isTesseraError } from '../../util/errors.js';
import { Prng } from '../../util/prng.js';
import { Skiplist, nilNode, skiplistEntryBytesMax, type SkiplistNode } from './skiplist.js';

/** The model: entries sorted by key, kept with a binary-search insert. */
class SortedModel {
  readonly keys: Uint8Array[] = [];
  readonly values: Uint8Array[] = [];

  lowerBound(target: Uint8Array): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(this.keys[mid]!, target) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  has(key: Uint8Array): boolean {
    const i = this.lowerBound(key);
    return i < this.keys.length && compareBytes(this.keys[i]!, key) === 0;
  }

  insert(key: Uint8Array, value: Uint8Array): void {
    const i = this.lowerBound(key);
    this.keys.splice(i, 0, key);
    this.values.splice(i, 0, value);
  }
}

/** Key shapes that stress different paths: short keys (prefix ties with padding), zero bytes,
 * long shared prefixes (word comparison), and plain random keys. */
function randomKey(p: Prng, shape: number): Uint8Array {
  switch (shape) {
    case 0: {
      const alphabet = [0, 1, 0x61, 0xfe, 0xff];
      const out = new Uint8Array(p.int(7));
      for (let i = 0; i < out.length; i++) out[i] = alphabet[p.int(alphabet.length)]!;
      return out;
    }
    case 1: {
      const out = new Uint8Array(20 + p.int(30));
      out.fill(0x61, 0, 17);
      for (let i = 17; i < out.length; i++) out[i] = p.chance(0.7) ? 0x62 : p.int(256);
      return out;
    }
    default:
      return p.bytes(p.between(1, 48));
  }
}

function randomValue(p: Prng): Uint8Array {
  if (p.chance(0.01)) return p.bytes(p.between(4096, 70_000)); // forces new arena chunks
  return p.bytes(p.int(24));
}

/** Hex of short byte strings; length, head and a hash of long ones (hex of 70 KB is slow). */
function show(b: Uint8Array): string {
  if (b.length <= 64) return toHex(b);
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return `${b.length}:${toHex(b.subarray(0, 16))}:${(h >>> 0).toString(16)}`;
}

function collect(list: Skiplist): { keys: string[]; values: string[] } {
  const keys: string[] = [];
  const values: string[] = [];
  for (let n = list.first(); n !== nilNode; n = list.next(n)) {
    keys.push(toHex(list.key(n)));
    values.push(show(list.value(n)));
  }
  return { keys, values };
}

function expectAt(list: Skiplist, node: SkiplistNode, model: SortedModel, i: number): void {
  if (i === model.keys.length) {
    expect(node).toBe(nilNode);
    return;
  }
  expect(node).not.toBe(nilNode);
  expect(toHex(list.key(node))).toBe(toHex(model.keys[i]!));
  expect(show(list.value(node))).toBe(show(model.values[i]!));
}

describe('Skiplist', () => {
  it('is empty at first', () => {
    const list = new Skiplist(new Prng(1));
    expect(list.count).toBe(0);
    expect(list.first()).toBe(nilNode);
    expect(list.seek(new Uint8Array(0))).toBe(nilNode);
    expect(list.seek(Uint8Array.of(0xff))).toBe(nilNode);
  });

  it('agrees with a sorted-array model under random inserts and seeks (many seeds)', () => {
    for (let seed = 1; seed <= 150; seed++) {
      const p = new Prng(seed);
      const list = new Skiplist(p.fork());
      const model = new SortedModel();
      const shape = seed % 3;
      const ops = 50 + p.int(600);
      for (let op = 0; op < ops; op++) {
        if (p.chance(0.7)) {
          const key = randomKey(p, p.chance(0.8) ? shape : p.int(3));
          if (model.has(key)) continue;
          const value = randomValue(p);
          list.insert(key, value);
          model.insert(key, value);
        } else {
          const target =
            p.chance(0.3) && model.keys.length > 0 ? p.pick(model.keys) : randomKey(p, shape);
          expectAt(list, list.seek(target), model, model.lowerBound(target));
        }
      }
      expect(list.count).toBe(model.keys.length);
      const all = collect(list);
      expect(all.keys).toEqual(model.keys.map(toHex));
      expect(all.values).toEqual(model.values.map(show));
      expectAt(list, list.first(), model, 0);
    }
  });

  it('keeps keys and values intact across arena chunks, including one larger than a chunk', () => {
    const p = new Prng(7);
    const list = new Skiplist(p.fork());
    const model = new SortedModel();
    for (let i = 0; i < 3000; i++) {
      const key = p.bytes(16);
      const value = i === 1500 ? p.bytes(3 << 20) : p.bytes(p.int(300));
      list.insert(key, value);
      model.insert(key, value);
    }
    expect(list.bytesAllocated).toBeGreaterThanOrEqual(list.bytesUsed);
    const all = collect(list);
    expect(all.keys).toEqual(model.keys.map(toHex));
    expect(all.values).toEqual(model.values.map(show));
  });

  it('copies keys and values in: the caller may reuse its buffers', () => {
    const list = new Skiplist(new Prng(3));
    const key = Uint8Array.of(1, 2, 3);
    const value = Uint8Array.of(9);
    list.insert(key, value);
    key[0] = 7;
    value[0] = 7;
    const n = list.first();
    expect([...list.key(n)]).toEqual([1, 2, 3]);
    expect([...list.value(n)]).toEqual([9]);
  });

  it('takes the empty key and empty values', () => {
    const list = new Skiplist(new Prng(4));
    list.insert(new Uint8Array(0), new Uint8Array(0));
    list.insert(Uint8Array.of(0), new Uint8Array(0));
    expect(list.key(list.first()).length).toBe(0);
    expect(list.seek(new Uint8Array(0))).toBe(list.first());
    expect([...list.key(list.seek(Uint8Array.of(0)))]).toEqual([0]);
    expect(list.seek(Uint8Array.of(0, 0))).toBe(nilNode);
  });

  it('rejects a key already present as an assertion failure', () => {
    const p = new Prng(5);
    const list = new Skiplist(p);
    const keys = [new Uint8Array(0), Uint8Array.of(1), p.bytes(40), Uint8Array.of(1, 0)];
    for (const k of keys) list.insert(k, Uint8Array.of(1));
    for (const k of keys) {
      let error: unknown;
      try {
        list.insert(Uint8Array.from(k), Uint8Array.of(2));
      } catch (err) {
        error = err;
      }
      expect(isTesseraError(error, 'ASSERTION_FAILED')).toBe(true);
    }
    expect(list.count).toBe(keys.length);
  });

  it('rejects an entry over the size bound', () => {
    const list = new Skiplist(new Prng(6));
    let error: unknown;
    try {
      list.insert(Uint8Array.of(1), new Uint8Array(skiplistEntryBytesMax));
    } catch (err) {
      error = err;
    }
    expect(isTesseraError(error, 'INVALID_ARGUMENT')).toBe(true);
    expect(list.count).toBe(0);
  });

  it('is a pure function of its seed', () => {
    const build = (): Skiplist => {
      const p = new Prng(11);
      const list = new Skiplist(new Prng(12));
      for (let i = 0; i < 500; i++) list.insert(p.bytes(10), p.bytes(5));
      return list;
    };
    const a = build();
    const b = build();
    expect(a.bytesUsed).toBe(b.bytesUsed);
    expect(collect(a)).toEqual(collect(b));
  });

  it('seekFrom lands where seek does, from any entry before the target (many seeds)', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const p = new Prng(seed);
      const list = new Skiplist(p.fork());
      const model = new SortedModel();
      const shape = seed % 3;
      for (let i = 0; i < 50 + p.int(800); i++) {
        const key = randomKey(p, shape);
        if (model.has(key)) continue;
        list.insert(key, randomValue(p));
        model.insert(key, randomValue(p));
      }
      const nodes: SkiplistNode[] = [];
      for (let n = list.first(); n !== nilNode; n = list.next(n)) nodes.push(n);
      for (let q = 0; q < 200 && nodes.length > 0; q++) {
        const from = p.int(nodes.length);
        // Near targets (a few entries ahead) and far ones, present and absent.
        const ahead = p.chance(0.5) ? from + 1 + p.int(4) : from + 1 + p.int(nodes.length);
        const target =
          ahead < model.keys.length && p.chance(0.5) ? model.keys[ahead]! : randomKey(p, shape);
        if (compareBytes(model.keys[from]!, target) >= 0) continue;
        expect(list.seekFrom(nodes[from]!, target)).toBe(list.seek(target));
      }
    }
  });

  it('links every entry to a later entry of its run, never past the run (many seeds)', () => {
    // Runs: keys equal but for their last 2 bytes, as the store's column versions are but for
    // their 17-byte trailer. Few run prefixes and many suffixes make long runs, and inserts in
    // random order put new entries at a run's front, middle and back. The prefixes end in the
    // only zero byte they hold, so none is a prefix of another (the store's column parts end
    // in a terminator the same way).
    const suffix = 2;
    const runOf = (k: Uint8Array): string => toHex(k.subarray(0, k.length - suffix));
    for (let seed = 1; seed <= 60; seed++) {
      const p = new Prng(seed);
      const list = new Skiplist(p.fork(), suffix);
      const prefixes = Array.from({ length: 1 + p.int(12) }, () => {
        const body = Array.from({ length: p.int(5) }, () => p.between(1, 3));
        return Uint8Array.from([...body, 0]);
      });
      const seen = new Set<string>();
      for (let i = 0; i < 50 + p.int(600); i++) {
        const key = new Uint8Array([...p.pick(prefixes), ...p.bytes(suffix)]);
        if (seen.has(toHex(key))) continue;
        seen.add(toHex(key));
        list.insert(key, p.bytes(3));
      }
      let jumps = 0;
      for (let n = list.first(); n !== nilNode; n = list.next(n)) {
        const end = list.runEnd(n);
        if (end === n) continue;
        jumps++;
        // Walking from n to its run end passes only entries of n's run.
        let m = n;
        while (m !== end) {
          m = list.next(m);
          expect(m).not.toBe(nilNode);
          expect(runOf(list.key(m))).toBe(runOf(list.key(n)));
        }
      }
      expect(jumps).toBeGreaterThan(0);
    }
    // Without runs every entry is its own.
    const plain = new Skiplist(new Prng(1));
    const a = plain.insert(Uint8Array.of(1, 1, 1), Uint8Array.of(0));
    plain.insert(Uint8Array.of(1, 1, 0), Uint8Array.of(0));
    expect(plain.runEnd(a)).toBe(a);
    expect(plain.runEnd(plain.first())).toBe(plain.first());
  });

  it('links a run of versions inserted newest first to its oldest entry', () => {
    // The store's common case: each new version of a column sorts in front of the older ones.
    const list = new Skiplist(new Prng(3), 1);
    const nodes: SkiplistNode[] = [];
    for (let v = 200; v >= 1; v--)
      nodes.push(list.insert(Uint8Array.of(7, 7, v), Uint8Array.of(v)));
    const after = list.insert(Uint8Array.of(7, 8, 0), Uint8Array.of(0)); // the next run
    for (const n of nodes) expect(list.runEnd(n)).toBe(nodes[0]);
    expect(list.next(list.runEnd(list.first()))).toBe(after);
  });
});
