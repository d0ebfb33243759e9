import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realEnv } from '../../env/real/index.js';
import { SimWorld } from '../../env/sim/index.js';
import type { Env } from '../../env/types.js';
import { compareBytes, copyBytes, toHex, utf8 } from '../../util/bytes.js';
import { isTesseraError } from '../../util/errors.js';
import { Prng } from '../../util/prng.js';
import { BlockCache } from '../cache/index.js';
import { settle } from '../iterator.js';
import { TableBuilder, TableReader } from './index.js';
import { type Entry, drain, randomEntries, scanAll, writeTable } from './testdata/harness.js';

let root: string;
let env: Env;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'tessera-sstable-'));
  env = realEnv({ root, seed: 1 });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function hex(e: readonly Entry[]): string[] {
  return e.map(([k, v]) => `${toHex(k)}=${toHex(v)}`);
}

/** The index of the first entry with key >= target (entries.length if none). */
function lowerBound(entries: readonly Entry[], target: Uint8Array): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareBytes(entries[mid]![0], target) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

describe('TableBuilder + TableReader on real files', () => {
  const entries = randomEntries(new Prng(42), 100_000);
  const cases = [
    { name: 'snappy', options: { compression: 'snappy' as const } },
    { name: 'none', options: { compression: 'none' as const, restartInterval: 1 } },
    { name: 'tiny blocks', options: { blockBytes: 64, restartInterval: 3 } },
  ];

  for (const { name, options } of cases) {
    it(`round-trips 100k entries, seeks to every key and between keys (${name})`, async () => {
      const path = `/rt-${name.replace(' ', '-')}.sst`;
      const info = await writeTable(env.fs, path, entries, options);
      expect(info.entries).toBe(entries.length);
      expect(info.smallest).toEqual(entries[0]![0]);
      expect(info.largest).toEqual(entries[entries.length - 1]![0]);
      expect(info.size).toBe((await env.fs.stat(path)).size);

      const cache = new BlockCache(64 << 20);
      const reader = await TableReader.open(env.fs, path, 7, cache);
      expect(reader.info.entries).toBe(entries.length);
      expect(reader.info.compression).toBe(options.compression ?? 'snappy');
      const scanned = await scanAll(reader.iterator());
      expect(scanned.length).toBe(entries.length);
      expect(hex(scanned.slice(0, 1000))).toEqual(hex(entries.slice(0, 1000)));
      for (let i = 0; i < entries.length; i++) {
        const [k, v] = entries[i]!;
        if (compareBytes(scanned[i]![0], k) !== 0 || compareBytes(scanned[i]![1], v) !== 0) {
          throw new Error(`scan differs at ${i}`);
        }
      }

      const it = reader.iterator();
      for (let i = 0; i < entries.length; i++) {
        const [k, v] = entries[i]!;
        await settle(it.seek(k));
        if (!it.valid() || compareBytes(it.key(), k) !== 0 || compareBytes(it.value(), v) !== 0) {
          throw new Error(`seek to entry ${i} failed`);
        }
        // A key just above k (k ++ 00) is absent: the seek lands on the next entry.
        const above = new Uint8Array(k.length + 1);
        above.set(k);
        await settle(it.seek(above));
        const next = entries[i + 1];
        if (next === undefined) {
          if (it.valid()) throw new Error('seek past the last key is valid');
        } else if (!it.valid() || compareBytes(it.key(), next[0]) !== 0) {
          throw new Error(`seek above entry ${i} failed`);
        }
      }
      // Before everything, and after everything.
      await settle(it.seek(new Uint8Array(0)));
      expect(it.key()).toEqual(entries[0]![0]);
      await settle(it.seek(utf8('zzzz')));
      expect(it.valid()).toBe(false);
      // Random absent targets, then a few entries of scan from there.
      const prng = new Prng(5);
      for (let n = 0; n < 2000; n++) {
        const target = utf8(`user${String(prng.int(1 << 14)).padStart(7, '0')}/`);
        const j = lowerBound(entries, target);
        await settle(it.seek(target));
        const got = [];
        for (let s = 0; s < 3 && it.valid(); s++) {
          got.push(toHex(it.key()));
          await settle(it.next());
        }
        expect(got).toEqual(entries.slice(j, j + 3).map(([k]) => toHex(k)));
      }
      // Forward seeks a few entries ahead (which step along the block) and far ahead (which
      // search), onto keys and just above them, from a positioned iterator.
      for (let n = 0; n < 3000; n++) {
        const i = prng.int(entries.length);
        await settle(it.seek(entries[i]![0]));
        const d = prng.chance(0.8) ? 1 + prng.int(8) : 1 + prng.int(5000);
        const j = Math.min(entries.length - 1, i + d);
        const k = entries[j]![0];
        const target = prng.chance(0.5) ? k : Uint8Array.from([...k, 0]);
        await settle(it.seek(target));
        const want = target === k ? j : j + 1;
        if (want === entries.length) expect(it.valid()).toBe(false);
        else expect(toHex(it.key())).toBe(toHex(entries[want]![0]));
      }
      it.close();
      await reader.close();
    });
  }

  it('compresses compressible values and records the raw sizes', async () => {
    const prng = new Prng(3);
    const rows: Entry[] = [];
    for (let i = 0; i < 5000; i++) {
      rows.push([
        utf8(`key${String(i).padStart(6, '0')}`),
        utf8('abcdefgh'.repeat(8 + prng.int(4))),
      ]);
    }
    const a = await writeTable(env.fs, '/c-snappy.sst', rows, { compression: 'snappy' });
    const b = await writeTable(env.fs, '/c-none.sst', rows, { compression: 'none' });
    expect(a.size).toBeLessThan(b.size / 3);
    const r = await TableReader.open(env.fs, '/c-snappy.sst', 1, undefined);
    expect(hex(await scanAll(r.iterator()))).toEqual(hex(rows));
    expect(r.info.rawValueBytes).toBe(rows.reduce((n, [, v]) => n + v.length, 0));
    expect(r.info.rawKeyBytes).toBe(rows.reduce((n, [k]) => n + k.length, 0));
    await r.close();
  });

  it('keeps incompressible blocks uncompressed', async () => {
    const prng = new Prng(8);
    const rows = randomEntries(prng, 3000).map(([k]) => [k, prng.bytes(100)] as const);
    const a = await writeTable(env.fs, '/r-snappy.sst', rows, { compression: 'snappy' });
    const b = await writeTable(env.fs, '/r-none.sst', rows, { compression: 'none' });
    // Only the index block (prefix-heavy keys) may shrink.
    expect(a.size).toBeGreaterThan(b.size * 0.9);
  });

  it('serves cached blocks synchronously and counts disk reads', async () => {
    const rows = randomEntries(new Prng(9), 20_000);
    await writeTable(env.fs, '/cache.sst', rows);
    const cache = new BlockCache(16 << 20);
    const reader = await TableReader.open(env.fs, '/cache.sst', 3, cache);
    const it = reader.iterator();
    const k = rows[12_345]![0];
    const first = it.seek(k);
    expect(first).toBeInstanceOf(Promise);
    await first;
    expect(reader.blockReads).toBe(1);
    expect(it.seek(k)).toBeUndefined(); // the current block
    const other = reader.iterator();
    expect(other.seek(k)).toBeUndefined(); // a cache hit
    expect(toHex(other.key())).toBe(toHex(k));
    expect(reader.blockReads).toBe(1);
    expect(cache.hits).toBeGreaterThan(0);

    // A full scan with fillCache reads ahead (many blocks per disk read, growing windows) and
    // caches every block; a second scan reads none.
    await scanAll(reader.iterator());
    const reads = reader.blockReads;
    expect(reads).toBeGreaterThan(1);
    expect(reads).toBeLessThan(reader.dataBlocks / 4);
    expect(cache.entries).toBe(reader.dataBlocks);
    const scan = reader.iterator();
    expect(scan.seekToFirst()).toBeUndefined();
    let n = 0;
    while (scan.valid()) {
      n++;
      expect(scan.next()).toBeUndefined();
    }
    expect(n).toBe(rows.length);
    expect(reader.blockReads).toBe(reads);
    await reader.close();
  });

  it('shares one disk read between concurrent misses on a block', async () => {
    const rows = randomEntries(new Prng(16), 5000);
    await writeTable(env.fs, '/shared.sst', rows);
    const cache = new BlockCache(16 << 20);
    const reader = await TableReader.open(env.fs, '/shared.sst', 2, cache);
    const its = Array.from({ length: 10 }, (_, i) => reader.iterator({ fillCache: i === 9 }));
    await Promise.all(its.map((it, i) => settle(it.seek(rows[100 + i]![0]))));
    expect(reader.blockReads).toBe(1);
    its.forEach((it, i) => expect(toHex(it.key())).toBe(toHex(rows[100 + i]![0])));
    expect(cache.entries).toBe(1); // the last reader asked for the cache
    await reader.close();
  });

  it('does not fill the cache when told not to, but still uses it', async () => {
    const rows = randomEntries(new Prng(10), 5000);
    await writeTable(env.fs, '/nofill.sst', rows);
    const cache = new BlockCache(16 << 20);
    const reader = await TableReader.open(env.fs, '/nofill.sst', 4, cache);
    await scanAll(reader.iterator({ fillCache: false }));
    expect(cache.entries).toBe(0);
    await settle(reader.iterator().seek(rows[0]![0]));
    expect(cache.entries).toBe(1);
    const it = reader.iterator({ fillCache: false });
    expect(it.seek(rows[0]![0])).toBeUndefined();
    await reader.close();
  });

  it('stays invalid when closed while a read is in flight, and estimates offsets', async () => {
    const rows = randomEntries(new Prng(17), 20_000);
    const info = await writeTable(env.fs, '/close.sst', rows, { compression: 'none' });
    const reader = await TableReader.open(env.fs, '/close.sst', 3, new BlockCache(1 << 20));
    const it = reader.iterator();
    const step = it.seek(rows[5000]![0]);
    it.close();
    await step;
    expect(it.valid()).toBe(false);
    expect(() => it.seek(rows[0]![0])).toThrow(/after close/);

    expect(reader.approximateOffsetOf(new Uint8Array(0))).toBe(0);
    const middle = reader.approximateOffsetOf(rows[10_000]![0]);
    expect(middle).toBeGreaterThan(info.size * 0.3);
    expect(middle).toBeLessThan(info.size * 0.7);
    expect(reader.approximateOffsetOf(utf8('zzz'))).toBe(info.size);
    await reader.close();
  });

  it('works without a cache', async () => {
    const rows = randomEntries(new Prng(11), 3000);
    await writeTable(env.fs, '/nocache.sst', rows);
    const reader = await TableReader.open(env.fs, '/nocache.sst', 5, undefined);
    expect(hex(await scanAll(reader.iterator()))).toEqual(hex(rows));
    await reader.close();
  });

  it('answers mayContain with the filter key, never a false negative', async () => {
    const rowOf = (k: Uint8Array) => k.subarray(0, 12); // "user0000123/"
    const rows = randomEntries(new Prng(12), 20_000);
    await writeTable(env.fs, '/filter.sst', rows, { filterKey: rowOf });
    const reader = await TableReader.open(env.fs, '/filter.sst', 6, undefined);
    const distinct = new Set(rows.map(([k]) => toHex(rowOf(k))));
    expect(reader.info.filterKeys).toBe(distinct.size);
    for (const [k] of rows) expect(reader.mayContain(copyBytes(rowOf(k)))).toBe(true);
    let fp = 0;
    const trials = 10_000;
    for (let i = 0; i < trials; i++) fp += reader.mayContain(utf8(`absent${i}/`)) ? 1 : 0;
    expect(fp / trials).toBeLessThan(0.025);
    // ~10 bits per distinct row, not per key.
    expect(reader.approximateMemoryBytes).toBeLessThan(distinct.size * 2 + 200_000);
    await reader.close();

    await writeTable(env.fs, '/nofilter.sst', rows, { bloomBitsPerKey: 0 });
    const plain = await TableReader.open(env.fs, '/nofilter.sst', 7, undefined);
    expect(plain.mayContain(utf8('anything'))).toBe(true);
    expect(plain.info.filterKeys).toBe(0);
    await plain.close();
  });

  it('builds the same filter from filterKeyLength as from the equivalent filterKey', async () => {
    const rows = randomEntries(new Prng(13), 5_000);
    await writeTable(env.fs, '/byview.sst', rows, { filterKey: (k) => k.subarray(0, 12) });
    await writeTable(env.fs, '/bylength.sst', rows, { filterKeyLength: () => 12 });
    expect(await env.fs.readFile('/bylength.sst')).toEqual(await env.fs.readFile('/byview.sst'));
  });

  it('holds one entry, huge values and empty keys and values', async () => {
    const big = new Prng(1).bytes(1 << 20);
    const rows: Entry[] = [
      [new Uint8Array(0), new Uint8Array(0)],
      [utf8('a'), big],
      [utf8('b'), new Uint8Array(0)],
      [new Uint8Array(300).fill(0xff), utf8('ff')],
    ];
    await writeTable(env.fs, '/edge.sst', rows);
    const r = await TableReader.open(env.fs, '/edge.sst', 8, new BlockCache(1 << 10));
    expect(hex(await scanAll(r.iterator()))).toEqual(hex(rows));
    const it = r.iterator();
    await settle(it.seek(utf8('a')));
    expect(it.value().length).toBe(big.length);
    await settle(it.seek(new Uint8Array(301).fill(0xff)));
    expect(it.valid()).toBe(false);
    await r.close();

    await writeTable(env.fs, '/one.sst', [[utf8('only'), utf8('v')]]);
    const one = await TableReader.open(env.fs, '/one.sst', 9, undefined);
    expect(hex(await scanAll(one.iterator()))).toEqual(hex([[utf8('only'), utf8('v')]]));
    await one.close();
  });

  it('asserts on out-of-order keys and on finishing an empty table', async () => {
    const file = await env.fs.open('/bad.sst', { create: true, truncate: true });
    const b = new TableBuilder(file, '/bad.sst', {});
    b.add(utf8('b'), utf8(''));
    expect(() => b.add(utf8('a'), utf8(''))).toThrow(/strictly increase/);
    expect(() => b.add(utf8('b'), utf8(''))).toThrow(/strictly increase/);
    b.abandon();
    expect(() => b.add(utf8('c'), utf8(''))).toThrow(/abandoned/);
    const empty = new TableBuilder(file, '/bad.sst', {});
    await expect(empty.finish()).rejects.toThrow(/no entries/);
    await file.close();
  });

  it('estimates its size while building and writes in large appends', async () => {
    const file = await env.fs.open('/est.sst', { create: true, truncate: true });
    const sizes: number[] = [];
    const counting = Object.create(file) as typeof file;
    counting.append = (data) => {
      sizes.push(data.length);
      return file.append(data);
    };
    const b = new TableBuilder(counting, '/est.sst', { compression: 'none' });
    const rows = randomEntries(new Prng(13), 50_000);
    let last = 0;
    for (const [k, v] of rows) {
      b.add(k, v);
      expect(b.estimatedSize).toBeGreaterThanOrEqual(last);
      last = b.estimatedSize;
    }
    const info = await b.finish();
    expect(info.size).toBeGreaterThan(last);
    expect(info.size).toBeLessThan(last * 1.2);
    expect(sizes.length).toBeGreaterThan(10);
    for (const n of sizes.slice(0, -1)) expect(n).toBeGreaterThanOrEqual(64 * 1024);
    expect(sizes.reduce((a, n) => a + n, 0)).toBe(info.size);
    await file.close();
  });

  it('reports a failed append from finish', async () => {
    const file = await env.fs.open('/fail.sst', { create: true, truncate: true });
    const failing = Object.create(file) as typeof file;
    failing.append = () => Promise.reject(new Error('disk on fire'));
    const b = new TableBuilder(failing, '/fail.sst', {});
    for (const [k, v] of randomEntries(new Prng(14), 20_000)) {
      try {
        b.add(k, v);
      } catch (err) {
        expect(isTesseraError(err, 'INTERNAL')).toBe(true);
        break;
      }
    }
    await expect(b.finish()).rejects.toThrow(/disk on fire|finish while/);
    await file.close();
  });

  it('raises NOT_FOUND for a missing table', async () => {
    await expect(TableReader.open(env.fs, '/missing.sst', 1, undefined)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});

describe('on the simulated file system', () => {
  it('writes and reads a table', async () => {
    const world = new SimWorld({ seed: 2 });
    const node = world.addNode('n1');
    const rows = randomEntries(new Prng(15), 5000);
    const run = async () => {
      await writeTable(node.env.fs, '/t.sst', rows);
      const r = await TableReader.open(node.env.fs, '/t.sst', 1, new BlockCache(1 << 20));
      const got = await scanAll(r.iterator());
      const it = r.iterator();
      await settle(it.seek(rows[777]![0]));
      const tail = await drain(it);
      await r.close();
      return { got, tail };
    };
    const { got, tail } = await world.settle(run(), { timeoutMs: 600_000 });
    expect(hex(got)).toEqual(hex(rows));
    expect(tail.length).toBe(rows.length - 777);
  });
});
