import { describe, expect, it } from 'vitest';
import { compareBytes, toHex, utf8 } from '../../util/bytes.js';
import { isTesseraError } from '../../util/errors.js';
import { Prng } from '../../util/prng.js';
import { Block } from './block.js';
import { BlockBuilder } from './block-builder.js';
import { BlockIterator } from './block-iterator.js';

type Entry = readonly [Uint8Array, Uint8Array];

function buildBlock(entries: readonly Entry[], restartInterval: number): Uint8Array {
  const b = new BlockBuilder(restartInterval);
  for (const [k, v] of entries) b.add(k, v);
  const estimate = b.sizeEstimate;
  const data = new Uint8Array(b.finish());
  expect(data.length).toBe(estimate);
  return data;
}

function iterate(data: Uint8Array): Entry[] {
  const it = new BlockIterator();
  it.setBlock(Block.parse(data, 'b', 0));
  const out: Entry[] = [];
  for (it.seekToFirst(); it.valid(); it.next()) out.push([it.key().slice(), it.value().slice()]);
  return out;
}

function sortedEntries(prng: Prng, n: number, keyBytesMax: number, valueBytesMax: number): Entry[] {
  const seen = new Map<string, Uint8Array>();
  const alphabet = [0, 1, 0x61, 0x62, 0xff];
  while (seen.size < n) {
    const k = Uint8Array.from(
      { length: prng.between(0, keyBytesMax) },
      () => alphabet[prng.int(alphabet.length)]!,
    );
    seen.set(toHex(k), k);
  }
  return [...seen.values()]
    .sort(compareBytes)
    .map((k) => [k, prng.bytes(prng.between(0, valueBytesMax))] as const);
}

describe('data blocks', () => {
  it('lays out a tiny block byte for byte (the example in docs/formats/sstable.md)', () => {
    const b = new BlockBuilder(2);
    b.add(utf8('apple'), utf8('1'));
    b.add(utf8('apply'), utf8('22'));
    b.add(utf8('banana'), utf8(''));
    expect(toHex(b.finish())).toBe(
      '000501' +
        '6170706c65' +
        '31' + // "apple" -> "1"
        '040102' +
        '79' +
        '3232' + // shares "appl", adds "y" -> "22"
        '000600' +
        '62616e616e61' + // restart: "banana" -> ""
        '00000000' +
        '0f000000' +
        '02000000', // restarts 0 and 15, count 2
    );
  });

  for (const restartInterval of [1, 2, 16, 1000]) {
    it(`round-trips and seeks correctly (restart interval ${restartInterval})`, () => {
      const prng = new Prng(restartInterval);
      const entries = sortedEntries(prng, 400, 6, 20);
      const data = buildBlock(entries, restartInterval);
      expect(iterate(data).map(([k, v]) => toHex(k) + toHex(v))).toEqual(
        entries.map(([k, v]) => toHex(k) + toHex(v)),
      );
      const it = new BlockIterator();
      it.setBlock(Block.parse(data, 'b', 0));
      // Every present key, and a spread of absent ones.
      const targets = [
        ...entries.map(([k]) => k),
        ...sortedEntries(prng, 300, 7, 0).map(([k]) => k),
      ];
      for (const t of targets) {
        it.seek(t);
        const want = entries.find(([k]) => compareBytes(k, t) >= 0);
        if (want === undefined) {
          expect(it.valid()).toBe(false);
        } else {
          expect(toHex(it.key())).toBe(toHex(want[0]));
          expect(toHex(it.value())).toBe(toHex(want[1]));
        }
      }
    });
  }

  it('handles long keys and values (multi-byte varints)', () => {
    const prng = new Prng(9);
    const entries: Entry[] = [];
    for (let i = 0; i < 50; i++) {
      const k = new Uint8Array(200 + i * 10).fill(0x41);
      k[k.length - 1] = i;
      entries.push([k, prng.bytes(prng.between(0, 3000))]);
    }
    entries.sort((a, b) => compareBytes(a[0], b[0]));
    const data = buildBlock(entries, 4);
    expect(iterate(data).map(([k, v]) => toHex(k) + toHex(v))).toEqual(
      entries.map(([k, v]) => toHex(k) + toHex(v)),
    );
  });

  it('key() and value() stay valid until the next move', () => {
    const data = buildBlock(
      [
        [utf8('aa'), utf8('1')],
        [utf8('ab'), utf8('2')],
      ],
      16,
    );
    const it = new BlockIterator();
    it.setBlock(Block.parse(data, 'b', 0));
    it.seekToFirst();
    const k = it.key();
    expect(it.key()).toBe(k); // the same view, not a new one per call
    expect(k).toEqual(utf8('aa'));
    it.next();
    expect(it.key()).toEqual(utf8('ab'));
    it.next();
    expect(it.valid()).toBe(false);
  });

  it('rejects malformed restart arrays', () => {
    const bad = (bytes: number[]) => () => Block.parse(Uint8Array.from(bytes), 'x.sst', 99);
    expect(bad([0, 0])).toThrow(/block of 2 bytes in block at offset 99 of x.sst/);
    expect(bad([0, 0, 0, 0])).toThrow(/restart count 0/);
    expect(bad([0, 0, 0, 0, 1, 0, 0, 0])).toThrow(/restart point/); // no entries
    expect(bad([0, 1, 0, 0x61, 5, 0, 0, 0, 1, 0, 0, 0])).toThrow(/restart point/);
    expect(bad([9, 9, 9, 9, 9, 0, 0, 0, 0, 1, 0, 0, 0])).not.toThrow();
  });

  it('raises only CORRUPTION (or reads something) for mutated blocks', () => {
    const prng = new Prng(11);
    const entries = sortedEntries(prng, 60, 8, 300);
    const good = buildBlock(entries, 4);
    let corruptions = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const data = good.slice();
      const flips = prng.between(1, 4);
      for (let f = 0; f < flips; f++) data[prng.int(data.length)] = prng.int(256);
      try {
        const block = Block.parse(data, 'm.sst', 4096);
        const it = new BlockIterator();
        it.setBlock(block);
        for (it.seekToFirst(); it.valid(); it.next()) it.key();
        for (let s = 0; s < 5; s++) {
          it.setBlock(block);
          it.seek(prng.bytes(prng.between(0, 6)));
          if (it.valid()) it.value();
        }
      } catch (err) {
        if (!isTesseraError(err, 'CORRUPTION')) throw err;
        expect(err.message).toMatch(/offset 4096 of m\.sst/);
        expect(err.details).toMatchObject({ path: 'm.sst', offset: 4096 });
        corruptions++;
      }
    }
    expect(corruptions).toBeGreaterThan(100);
  });
});
