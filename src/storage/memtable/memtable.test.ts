import { describe, expect, it } from 'vitest';
import { compareBytes, fromUtf8, toHex, utf8 } from '../../util/bytes.js';
import { isTesseraError } from '../../util/errors.js';
import { Prng } from '../../util/prng.js';
import {
  columnEndKey,
  columnTrailerBytes,
  encodeCellKey,
  internalKey,
  Kind,
  rowPrefixLength,
  rowStartKey,
} from '../key.js';
import { Memtable } from './index.js';

function sortedHex(keys: Iterable<Uint8Array>): string[] {
  return [...keys].sort(compareBytes).map(toHex);
}

function expectAssertion(fn: () => unknown): void {
  let error: unknown;
  try {
    fn();
  } catch (err) {
    error = err;
  }
  expect(isTesseraError(error, 'ASSERTION_FAILED')).toBe(true);
}

function randomKey(p: Prng): Uint8Array {
  return p.chance(0.5) ? p.bytes(p.int(6)) : p.bytes(p.between(20, 44));
}

describe('Memtable', () => {
  it('counts entries and bytes, with the id it was given', () => {
    const mem = new Memtable(new Prng(1), 42);
    expect(mem.id).toBe(42);
    expect(new Memtable(new Prng(1)).id).toBe(0);
    expect(mem.count).toBe(0);
    const empty = mem.approximateBytes;
    let payload = 0;
    let last = empty;
    const p = new Prng(2);
    for (let i = 0; i < 100; i++) {
      const key = p.bytes(30);
      const value = p.bytes(p.int(100));
      mem.add(key, value);
      payload += key.length + value.length;
      expect(mem.approximateBytes).toBeGreaterThan(last);
      last = mem.approximateBytes;
    }
    expect(mem.count).toBe(100);
    expect(mem.approximateBytes - empty).toBeGreaterThanOrEqual(payload + 100 * 20);
    expect(mem.approximateBytes - empty).toBeLessThan(payload + 100 * 100);
  });

  it('iterates, seeks and gets like a sorted-array model (many seeds)', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const p = new Prng(seed);
      const mem = new Memtable(p.fork());
      const model = new Map<string, Uint8Array>();
      const keys: Uint8Array[] = [];
      const n = p.int(400);
      for (let i = 0; i < n; i++) {
        const key = randomKey(p);
        if (model.has(toHex(key))) continue;
        const value = p.bytes(p.int(16));
        mem.add(key, value);
        model.set(toHex(key), value);
        keys.push(key);
      }
      const sorted = sortedHex(keys);
      const it = mem.iterator();
      expect(it.valid()).toBe(false);
      expect(it.seekToFirst()).toBeUndefined();
      const seen: string[] = [];
      for (; it.valid(); expect(it.next()).toBeUndefined()) {
        seen.push(toHex(it.key()));
        expect(toHex(it.value())).toBe(toHex(model.get(toHex(it.key()))!));
      }
      expect(seen).toEqual(sorted);

      for (let s = 0; s < 50; s++) {
        const target = p.chance(0.3) && keys.length > 0 ? p.pick(keys) : randomKey(p);
        const want = sorted.findIndex((k) => compareBytes(Buffer.from(k, 'hex'), target) >= 0);
        expect(it.seek(target)).toBeUndefined();
        const got = mem.get(target);
        if (want < 0) {
          expect(it.valid()).toBe(false);
          expect(got).toBeUndefined();
        } else {
          expect(toHex(it.key())).toBe(sorted[want]);
          expect(toHex(got!.key)).toBe(sorted[want]);
          expect(toHex(got!.value)).toBe(toHex(model.get(sorted[want]!)!));
          // A few steps on from the seek.
          for (let j = want + 1; j < Math.min(sorted.length, want + 4); j++) {
            it.next();
            expect(toHex(it.key())).toBe(sorted[j]);
          }
        }
      }
      it.close();
    }
  });

  it('keeps iterators valid while entries are added: sees those ahead, not those behind', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const p = new Prng(seed);
      const mem = new Memtable(p.fork());
      const present: Uint8Array[] = [];
      const add = (): void => {
        const key = p.bytes(p.between(1, 6));
        if (present.some((k) => compareBytes(k, key) === 0)) return;
        mem.add(key, key);
        present.push(key);
      };
      for (let i = 0; i < 50; i++) add();
      const iterators = [mem.iterator(), mem.iterator(), mem.iterator()];
      iterators[0]!.seekToFirst();
      iterators[1]!.seek(p.bytes(1));
      // iterators[2] stays unpositioned until later.
      for (let round = 0; round < 300; round++) {
        for (let i = p.int(3); i > 0; i--) add();
        if (round === 100) iterators[2]!.seekToFirst();
        for (const it of iterators) {
          if (!it.valid()) continue;
          const before = it.key().slice();
          if (!p.chance(0.5)) continue;
          it.next();
          // The next entry is the smallest key now present that is greater than the old one.
          const greater = present.filter((k) => compareBytes(k, before) > 0).sort(compareBytes);
          if (greater.length === 0) expect(it.valid()).toBe(false);
          else expect(toHex(it.key())).toBe(toHex(greater[0]!));
          if (it.valid()) expect(toHex(it.value())).toBe(toHex(it.key()));
        }
      }
      for (const it of iterators) it.close();
    }
  });

  it('freeze() makes add() an assertion failure, and reads go on', () => {
    const mem = new Memtable(new Prng(3));
    mem.add(Uint8Array.of(1), Uint8Array.of(10));
    const it = mem.iterator();
    expect(mem.frozen).toBe(false);
    mem.freeze();
    mem.freeze();
    expect(mem.frozen).toBe(true);
    expectAssertion(() => mem.add(Uint8Array.of(2), Uint8Array.of(20)));
    expect(mem.count).toBe(1);
    it.seekToFirst();
    expect([...it.key()]).toEqual([1]);
    expect([...mem.get(new Uint8Array(0))!.value]).toEqual([10]);
  });

  it('adding a key already present is an assertion failure', () => {
    const mem = new Memtable(new Prng(4));
    mem.add(Uint8Array.of(1, 2), Uint8Array.of(1));
    expectAssertion(() => mem.add(Uint8Array.of(1, 2), Uint8Array.of(2)));
    expect(mem.count).toBe(1);
  });

  it('iterator misuse is an assertion failure; close() is idempotent', () => {
    const mem = new Memtable(new Prng(5));
    mem.add(Uint8Array.of(1), Uint8Array.of(1));
    const it = mem.iterator();
    expectAssertion(() => it.key());
    expectAssertion(() => it.value());
    expectAssertion(() => it.next());
    it.seekToFirst();
    it.next();
    expect(it.valid()).toBe(false);
    it.seekToFirst();
    it.close();
    it.close();
    expect(it.valid()).toBe(false);
    expectAssertion(() => it.seekToFirst());
    expectAssertion(() => it.seek(Uint8Array.of(0)));
  });

  it('finds a row through its row index where a seek lands, and no row it does not hold (many seeds)', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const p = new Prng(seed);
      const mem = new Memtable(p.fork(), 0, rowPrefixLength);
      // Rows from a small alphabet with zero bytes (escaped in keys) and shared prefixes.
      const rows = Array.from({ length: 1 + p.int(60) }, () =>
        Uint8Array.from({ length: p.int(6) + 1 }, () => p.pick([0, 1, 0xff, 0x61])),
      );
      const check = (): void => {
        for (const row of rows) {
          const start = rowStartKey(row);
          const seeked = mem.iterator();
          seeked.seek(start);
          const holds =
            seeked.valid() &&
            seeked.key().length > start.length &&
            compareBytes(seeked.key().subarray(0, start.length), start) === 0;
          const found = mem.seekRow(start);
          expect(found !== undefined).toBe(holds);
          if (found !== undefined) expect(toHex(found.key())).toBe(toHex(seeked.key()));
        }
      };
      let seq = 1;
      const n = p.int(500);
      for (let i = 0; i < n; i++) {
        const key = internalKey(
          encodeCellKey({
            row: p.pick(rows),
            family: Uint8Array.of(0x66),
            qualifier: p.bytes(p.int(3)),
            timestamp: p.int(1000),
            kind: Kind.Put,
          }),
          seq++,
        );
        mem.add(key, p.bytes(p.int(8)));
        if (p.chance(0.05)) check();
      }
      check();
      mem.freeze();
      check();
    }
  });

  it("seeks forward past a column's versions where a fresh seek lands (many seeds)", () => {
    // Few rows and columns, many versions each: the runs of versions a point read skips.
    for (let seed = 1; seed <= 60; seed++) {
      const p = new Prng(seed);
      const mem = new Memtable(p.fork(), 0, rowPrefixLength, columnTrailerBytes);
      const rows = Array.from({ length: 1 + p.int(4) }, () =>
        Uint8Array.from({ length: p.int(4) + 1 }, () => p.pick([0, 1, 0xff, 0x61])),
      );
      const qualifiers = Array.from({ length: 1 + p.int(4) }, () => p.bytes(p.int(3)));
      const keys: Uint8Array[] = [];
      const check = (): void => {
        const sorted = [...keys].sort(compareBytes);
        const it = mem.iterator();
        for (let q = 0; q < 40; q++) {
          const from = sorted[p.int(sorted.length)]!;
          it.seek(from);
          expect(toHex(it.key())).toBe(toHex(from));
          // A column end (what a point read seeks), or any later key, present or not.
          const target = p.chance(0.6)
            ? columnEndKey(from)
            : p.chance(0.5)
              ? sorted[p.int(sorted.length)]!
              : p.bytes(p.int(12));
          it.seek(target);
          const fresh = mem.iterator();
          fresh.seek(target);
          expect(it.valid()).toBe(fresh.valid());
          if (fresh.valid()) expect(toHex(it.key())).toBe(toHex(fresh.key()));
        }
      };
      let seq = 1;
      for (let i = 0; i < 20 + p.int(600); i++) {
        const key = internalKey(
          encodeCellKey({
            row: p.pick(rows),
            family: Uint8Array.of(0x66),
            qualifier: p.pick(qualifiers),
            // Mostly newer than before (each version in front of its column), some older.
            timestamp: p.chance(0.8) ? 1000 + i : p.int(1000),
            kind: p.chance(0.9) ? Kind.Put : Kind.DeleteColumn,
          }),
          seq++,
        );
        keys.push(key);
        mem.add(key, p.bytes(p.int(8)));
        if (p.chance(0.05)) check();
      }
      check();
    }
  });

  it('tells apart two rows whose hashes collide', () => {
    // 'row39455' and 'row1212150' have the same FNV-1a hash as row prefixes (found by search).
    const mem = new Memtable(new Prng(1), 0, rowPrefixLength);
    const key = (row: string): Uint8Array =>
      internalKey(
        encodeCellKey({
          row: utf8(row),
          family: utf8('f'),
          qualifier: utf8('q'),
          timestamp: 1,
          kind: Kind.Put,
        }),
        1,
      );
    mem.add(key('row39455'), utf8('a'));
    expect(mem.seekRow(rowStartKey(utf8('row1212150')))).toBeUndefined();
    mem.add(key('row1212150'), utf8('b'));
    expect(fromUtf8(mem.seekRow(rowStartKey(utf8('row1212150')))!.value())).toBe('b');
    expect(fromUtf8(mem.seekRow(rowStartKey(utf8('row39455')))!.value())).toBe('a');
  });

  it('refuses seekRow without a row index', () => {
    expectAssertion(() => new Memtable(new Prng(1)).seekRow(Uint8Array.of(1, 0, 1)));
  });
});
