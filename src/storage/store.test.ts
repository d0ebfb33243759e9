import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { realEnv } from '../env/real/index.js';
import type { Env } from '../env/types.js';
import { fromUtf8, utf8 } from '../util/bytes.js';
import type { BlockCache } from './cache/index.js';
import type { Memtable } from './memtable/index.js';
import { Store, blockCacheCapacity } from './store.js';
import { resolveOptions, type StoreOptions } from './options.js';
import { WriteBatch } from './write-batch.js';

const f = utf8('f');
const g = utf8('g');

let roots: string[] = [];
afterEach(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
  roots = [];
});

function env(): Env {
  const root = mkdtempSync(join(tmpdir(), 'tessera-store-'));
  roots.push(root);
  return realEnv({ name: 'store-test', root, seed: 1 });
}

const small: Partial<StoreOptions> = {
  memtableBytes: 16 * 1024,
  memoryBudgetBytes: 4 * 1024 * 1024,
  targetFileBytes: 8 * 1024,
  levelBaseBytes: 32 * 1024,
  blockBytes: 1024,
};

/** The store's block cache (private: reached for the tests of its sizing). */
function cacheOf(s: Store): BlockCache {
  return (s as unknown as { blockCache: BlockCache }).blockCache;
}

/** What the store's memtables allocated, as fitBlockCache charges it. */
function memtableCharge(s: Store): number {
  const m = s as unknown as { mem: Memtable; frozen: { mem: Memtable }[] };
  return m.frozen.reduce((n, f) => n + f.mem.allocatedBytes, m.mem.allocatedBytes);
}

function put(row: string, q: string, ts: number, v: string, family = f): WriteBatch {
  return new WriteBatch().put(utf8(row), family, utf8(q), ts, utf8(v));
}

async function values(store: Store, row: string, maxVersions?: number): Promise<string[]> {
  const cells = await store.get(utf8(row), maxVersions === undefined ? {} : { maxVersions });
  return cells.map(
    (c) => `${fromUtf8(c.family)}:${fromUtf8(c.qualifier)}@${c.timestamp}=${fromUtf8(c.value)}`,
  );
}

describe('Store', () => {
  it('puts, gets versions newest first, and deletes of every kind', async () => {
    const store = await Store.open(env(), { dir: 'db' });
    await store.write(put('r', 'a', 1, 'v1'));
    await store.write(put('r', 'a', 2, 'v2'));
    await store.write(put('r', 'b', 1, 'b1'));
    await store.write(put('r', 'c', 5, 'c5', g));
    expect(await values(store, 'r')).toEqual(['f:a@2=v2', 'f:a@1=v1', 'f:b@1=b1', 'g:c@5=c5']);
    expect(await values(store, 'r', 1)).toEqual(['f:a@2=v2', 'f:b@1=b1', 'g:c@5=c5']);
    await store.write(new WriteBatch().deleteVersion(utf8('r'), f, utf8('a'), 2));
    expect(await values(store, 'r')).toEqual(['f:a@1=v1', 'f:b@1=b1', 'g:c@5=c5']);
    await store.write(new WriteBatch().deleteColumn(utf8('r'), f, utf8('b'), 10));
    expect(await values(store, 'r')).toEqual(['f:a@1=v1', 'g:c@5=c5']);
    await store.write(new WriteBatch().deleteFamily(utf8('r'), f, 10));
    expect(await values(store, 'r')).toEqual(['g:c@5=c5']);
    await store.write(new WriteBatch().deleteRow(utf8('r'), 4));
    expect(await values(store, 'r')).toEqual(['g:c@5=c5']);
    await store.write(new WriteBatch().deleteRow(utf8('r'), 5));
    expect(await values(store, 'r')).toEqual([]);
    await store.close();
  });

  it('keeps every acknowledged write across flushes, compactions and reopen', async () => {
    const e = env();
    let store = await Store.open(e, { dir: 'db', ...small });
    const n = 3000;
    for (let i = 0; i < n; i++) {
      await store.write(put(`row${String((i * 7919) % n).padStart(5, '0')}`, 'q', 1, `value-${i}`));
    }
    await store.flush();
    const levels = store.levelSummary();
    expect(levels.reduce((a, l) => a + l.files, 0)).toBeGreaterThan(1);
    expect(store.stats.flushes).toBeGreaterThan(1);
    await store.close();
    store = await Store.open(e, { dir: 'db', ...small });
    for (let i = 0; i < n; i += 97) {
      const row = `row${String((i * 7919) % n).padStart(5, '0')}`;
      expect(await values(store, row)).toEqual([`f:q@1=value-${i}`]);
    }
    let count = 0;
    let prev = '';
    for await (const r of store.scan()) {
      const row = fromUtf8(r.row);
      expect(row > prev).toBe(true);
      prev = row;
      count++;
    }
    expect(count).toBe(n);
    await store.compactAll();
    const after = store.levelSummary();
    expect(after.filter((l) => l.files > 0).map((l) => l.level)).toEqual([6]);
    expect(await values(store, 'row00042')).toHaveLength(1);
    await store.close();
  });

  it('recovers unflushed writes from the WAL after close without flush', async () => {
    const e = env();
    let store = await Store.open(e, { dir: 'db' });
    await store.write(put('k', 'q', 7, 'seven'));
    await store.close();
    store = await Store.open(e, { dir: 'db' });
    expect(await values(store, 'k')).toEqual(['f:q@7=seven']);
    await store.write(put('k', 'q', 8, 'eight'));
    await store.close();
    store = await Store.open(e, { dir: 'db' });
    expect(await values(store, 'k')).toEqual(['f:q@8=eight', 'f:q@7=seven']);
    await store.close();
  });

  it('a snapshot sees the store as it was, across flush and compaction', async () => {
    const store = await Store.open(env(), { dir: 'db', ...small });
    await store.write(put('s', 'q', 1, 'old'));
    const snap = store.snapshot();
    await store.write(put('s', 'q', 1, 'new'));
    await store.write(
      new WriteBatch().deleteRow(utf8('t'), 1).put(utf8('u'), f, utf8('q'), 1, utf8('x')),
    );
    await store.compactAll();
    expect(await values(store, 's')).toEqual(['f:q@1=new']);
    const cells = await store.get(utf8('s'), { snapshot: snap });
    expect(cells.map((c) => fromUtf8(c.value))).toEqual(['old']);
    snap.release();
    await store.compactAll();
    expect(await values(store, 's')).toEqual(['f:q@1=new']);
    await store.close();
  });

  it('reads a column with hundreds of versions right, seeking past the versions it no longer needs', async () => {
    const store = await Store.open(env(), { dir: 'db', ...small });
    // Family tombstones live in the empty qualifier; a column of it is never skipped.
    await store.write(new WriteBatch().deleteFamily(utf8('hot'), f, 5));
    for (let ts = 1; ts <= 300; ts++) await store.write(put('hot', 'a', ts, `a${ts}`));
    await store.write(put('hot', '', 400, 'empty')); // newer than the family tombstone
    await store.write(put('hot', 'b', 2, 'b2')); // after many versions of a: must not be skipped
    await store.write(put('hot', 'b', 7, 'b7'));
    await store.write(put('hot', 'ab', 8, 'ab8'));
    const snap = store.snapshot();
    // A newer version the snapshot hides, first in its column right after the skipped one.
    await store.write(put('hot', 'ab', 50, 'ab50'));
    // Newer versions the snapshot must not see, each starting its column again.
    for (let ts = 301; ts <= 320; ts++) await store.write(put('hot', 'a', ts, `a${ts}`));
    await store.write(put('hot', 'c', 9, 'c9'));
    const newest = ['f:@400=empty', 'f:a@320=a320', 'f:ab@50=ab50', 'f:b@7=b7', 'f:c@9=c9'];
    expect(await values(store, 'hot', 1)).toEqual(newest);
    const seen = await store.get(utf8('hot'), { snapshot: snap, maxVersions: 2 });
    expect(seen.map((c) => `${fromUtf8(c.qualifier)}@${c.timestamp}`)).toEqual([
      '@400',
      'a@300',
      'a@299',
      'ab@8',
      'b@7', // b@2 is masked by the family tombstone at 5
    ]);
    // Versions at or below the family tombstone stay hidden, however many are skipped.
    const old = await store.get(utf8('hot'), { maxTimestamp: 6, maxVersions: 10 });
    expect(old.map((c) => `${fromUtf8(c.qualifier)}@${c.timestamp}`)).toEqual([]);
    snap.release();
    await store.flush();
    expect(await values(store, 'hot', 1)).toEqual(newest);
    await store.close();
  });

  it('scans a row range with limit and sees one point in time', async () => {
    const store = await Store.open(env(), { dir: 'db', ...small });
    for (let i = 0; i < 200; i++)
      await store.write(put(`r${String(i).padStart(3, '0')}`, 'q', 1, `v${i}`));
    const rows: string[] = [];
    for await (const r of store.scan({ startRow: utf8('r010'), stopRow: utf8('r020') })) {
      rows.push(fromUtf8(r.row));
      // Writes during the scan are not seen by it.
      await store.write(put('r015x', 'q', 1, 'late'));
    }
    expect(rows).toEqual(
      Array.from({ length: 10 }, (_, i) => `r${String(10 + i).padStart(3, '0')}`),
    );
    const limited: string[] = [];
    for await (const r of store.scan({ limit: 3 })) limited.push(fromUtf8(r.row));
    expect(limited).toEqual(['r000', 'r001', 'r002']);
    await store.close();
  });

  it('takes a new memory budget: a smaller memtable and block cache, and keeps every write', async () => {
    const mib = 1024 * 1024;
    const store = await Store.open(env(), { dir: 'db', memoryBudgetBytes: 16 * mib });
    expect(store.options.memtableBytes).toBe(2 * mib);
    for (let i = 0; i < 200; i++) {
      await store.write(put(`r${String(i).padStart(3, '0')}`, 'q', 1, 'x'.repeat(1000)));
    }
    await store.flush();
    for (let i = 0; i < 200; i += 7) await values(store, `r${String(i).padStart(3, '0')}`);
    store.resizeMemory(4 * mib);
    expect(store.options.memoryBudgetBytes).toBe(4 * mib);
    expect(store.options.memtableBytes).toBe(mib / 2);
    const cache = cacheOf(store);
    // The cache has the new static share plus the memtable room it may borrow.
    expect(cache.capacityBytes).toBe(blockCacheCapacity(store.options, memtableCharge(store)));
    expect(cache.capacityBytes).toBeGreaterThan(store.options.blockCacheBytes);
    expect(cache.usageBytes).toBeLessThanOrEqual(cache.capacityBytes);
    // Writes past the new, smaller memtable size freeze and flush it.
    const flushesBefore = store.stats.flushes;
    for (let i = 0; i < 1000; i++) await store.write(put(`s${i}`, 'q', 1, 'y'.repeat(1000)));
    expect(store.stats.flushes).toBeGreaterThan(flushesBefore);
    expect(await values(store, 'r007')).toEqual([`f:q@1=${'x'.repeat(1000)}`]);
    expect(() => store.resizeMemory(0)).toThrow();
    await store.close();
  });

  it('sizes the block cache by what the memtables allocated: at most one memtable borrowed, less as they fill', () => {
    const o = resolveOptions({ dir: 'db', memoryBudgetBytes: 16 * 1024 * 1024 });
    const room = o.blockCacheBytes + o.memtableBytes * (o.frozenMemtablesMax + 1);
    const ceiling = o.blockCacheBytes + o.memtableBytes;
    expect(blockCacheCapacity(o, 0)).toBe(ceiling);
    expect(blockCacheCapacity(o, room - ceiling)).toBe(ceiling);
    expect(blockCacheCapacity(o, room - ceiling + 4096)).toBe(ceiling - 4096);
    expect(blockCacheCapacity(o, room - o.blockCacheBytes)).toBe(o.blockCacheBytes);
    expect(blockCacheCapacity(o, room + 1)).toBe(0);
  });

  it('charges the memtables to the block cache: the cache gives room back as they grow, and takes it again once they flush', async () => {
    const mib = 1024 * 1024;
    const store = await Store.open(env(), {
      dir: 'db',
      memoryBudgetBytes: 16 * mib,
      frozenMemtablesMax: 1,
    });
    const o = store.options;
    const room = o.blockCacheBytes + o.memtableBytes * (o.frozenMemtablesMax + 1);
    const ceiling = o.blockCacheBytes + o.memtableBytes;
    const cache = cacheOf(store);
    expect(cache.capacityBytes).toBe(ceiling);
    // Fill the cache with blocks of flushed rows, then write on: the cache shrinks by what the
    // memtables allocate past what it may borrow, and evicts to fit.
    for (let i = 0; i < 1500; i++) await store.write(put(`a${i}`, 'q', 1, 'x'.repeat(1000)));
    await store.flush();
    for (let i = 0; i < 1500; i += 3) await values(store, `a${i}`);
    let smallest = cache.capacityBytes;
    for (let i = 0; i < 6000; i++) {
      await store.write(put(`b${i}`, 'q', 1, 'y'.repeat(1000)));
      const charge = memtableCharge(store);
      expect(cache.capacityBytes).toBe(blockCacheCapacity(o, charge));
      expect(cache.capacityBytes + charge).toBeLessThanOrEqual(room);
      expect(cache.usageBytes).toBeLessThanOrEqual(cache.capacityBytes);
      smallest = Math.min(smallest, cache.capacityBytes);
    }
    expect(store.stats.flushes).toBeGreaterThan(2);
    expect(smallest).toBeLessThan(ceiling);
    // Once the memtables are flushed, the room is the cache's again.
    await store.flush();
    expect(cache.capacityBytes).toBe(ceiling);
    await store.close();
  });

  it('caches what flushes write, and what compactions write where the cache has room', async () => {
    const e = env();
    const kib = 1024;
    const base = {
      dir: 'db',
      memtableBytes: 64 * kib,
      targetFileBytes: 256 * kib,
      blockBytes: kib,
    };
    const row = (i: number): string => `r${String(i).padStart(4, '0')}`;
    const readAll = async (s: Store): Promise<void> => {
      for (let i = 0; i < 1500; i++) expect(await values(s, row(i), 1)).toHaveLength(1);
    };

    // A cache larger than the data: flushes and the compactions after them leave every block
    // cached, so reading back all that was written never touches a file.
    let store = await Store.open(e, { ...base, memoryBudgetBytes: 16 * kib * kib });
    for (let i = 0; i < 1500; i++) await store.write(put(row(i), 'q', 1, 'x'.repeat(1000)));
    await store.flush();
    let cache = cacheOf(store);
    expect(cache.misses).toBe(0);
    await readAll(store);
    await store.compactAll();
    await readAll(store);
    expect(cache.misses).toBe(0);
    await store.close();

    // Reopened with a cache smaller than the data: the compaction's output fills the free room
    // and evicts nothing.
    store = await Store.open(e, { ...base, memoryBudgetBytes: kib * kib });
    cache = cacheOf(store);
    expect(cache.usageBytes).toBe(0);
    await store.write(put(row(0), 'q', 2, 'y'));
    await store.compactAll();
    expect(cache.evictions).toBe(0);
    expect(cache.usageBytes).toBeGreaterThan(cache.capacityBytes / 2);
    expect(cache.usageBytes).toBeLessThanOrEqual(cache.capacityBytes);
    // Reading everything now misses on the blocks left out, and the answers are right.
    await readAll(store);
    expect(cache.misses).toBeGreaterThan(0);
    expect(await values(store, row(0), 1)).toEqual(['f:q@2=y']);
    await store.close();
  });

  it('rejects bad input with INVALID_ARGUMENT and writes after close with SHUTTING_DOWN', async () => {
    const store = await Store.open(env(), { dir: 'db' });
    expect(() => new WriteBatch().put(new Uint8Array(0), f, utf8('q'), 1, utf8('v'))).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => new WriteBatch().put(utf8('r'), f, utf8('q'), -1, utf8('v'))).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    await store.close();
    await expect(store.write(put('r', 'q', 1, 'v'))).rejects.toMatchObject({
      code: 'SHUTTING_DOWN',
    });
  });
});
