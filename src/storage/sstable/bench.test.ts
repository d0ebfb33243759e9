/**
 * Speed of the hot paths, run on demand (timing assertions in the default suite would be flaky
 * on loaded machines; the numbers are printed instead):
 *
 *     TESSERA_SSTABLE_BENCH=1 npx vitest run src/storage/sstable/bench.test.ts
 *
 * Under vitest every call across modules goes through its module runner's export getters,
 * which roughly doubles the cost of the seek paths; the same loops over the tsc build (`dist`)
 * run about twice as fast. Compare runs with each other, not with production numbers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { realEnv } from '../../env/real/index.js';
import { Prng } from '../../util/prng.js';
import { BlockCache } from '../cache/index.js';
import { encodeInternalKey, Kind, rowPrefix } from '../key.js';
import { TableBuilder, TableReader } from './index.js';

const enabled = process.env.TESSERA_SSTABLE_BENCH === '1';
const n = 1_000_000;

function keys(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < n; i++) {
    const row = enc.encode(`row${String(i >> 2).padStart(9, '0')}`);
    const qualifier = enc.encode(`q${i & 3}`);
    out.push(
      encodeInternalKey(
        {
          row,
          family: enc.encode('cf'),
          qualifier,
          timestamp: 1_700_000_000_000_000,
          kind: Kind.Put,
        },
        n - i,
      ),
    );
  }
  return out;
}

describe.skipIf(!enabled)('sstable speed', () => {
  it('1M adds, 1M cached seeks, full scans', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
    try {
      const env = realEnv({ root, seed: 1 });
      const ks = keys();
      const prng = new Prng(1);
      const values = Array.from({ length: 1024 }, (_, i) =>
        i % 2 ? prng.bytes(50) : new TextEncoder().encode(`value-${i}-`.repeat(5)),
      );
      for (const compression of ['none', 'snappy'] as const) {
        const path = `/bench-${compression}.sst`;
        const file = await env.fs.open(path, { create: true, truncate: true });
        let t = performance.now();
        const b = new TableBuilder(file, path, { compression, filterKey: rowPrefix });
        for (let i = 0; i < n; i++) b.add(ks[i]!, values[i & 1023]!);
        const info = await b.finish();
        await file.close();
        const buildMs = performance.now() - t;

        const cache = new BlockCache(512 << 20);
        const reader = await TableReader.open(env.fs, path, 1, cache);
        t = performance.now();
        let it = reader.iterator();
        let s = it.seekToFirst();
        if (s) await s;
        let count = 0;
        while (it.valid()) {
          count++;
          s = it.next();
          if (s) await s;
        }
        const coldScanMs = performance.now() - t;
        expect(count).toBe(n);

        t = performance.now();
        it = reader.iterator();
        it.seekToFirst();
        while (it.valid()) it.next();
        const warmScanMs = performance.now() - t;

        // Random keys of the whole table: each target is itself a cold object in memory.
        const order = Array.from({ length: n }, () => prng.int(n));
        it = reader.iterator();
        t = performance.now();
        let sync = 0;
        for (const i of order) {
          if (it.seek(ks[i]!) === undefined) sync++;
        }
        const seekMs = performance.now() - t;
        expect(sync).toBe(n);

        // Point reads as the engine does them: a fresh iterator per read, targets in the CPU
        // cache (a get builds its target just before seeking), blocks all over the table.
        const hot = order.slice(0, 4096).map((i) => ks[i]!.slice());
        t = performance.now();
        for (let j = 0; j < n; j++) {
          const point = reader.iterator();
          if (point.seek(hot[j & 4095]!) !== undefined) throw new Error('not synchronous');
          point.key();
          point.value();
          point.close();
        }
        const pointMs = performance.now() - t;

        t = performance.now();
        let hits = 0;
        for (const i of order) if (reader.mayContain(rowPrefix(ks[i]!))) hits++;
        const bloomMs = performance.now() - t;
        expect(hits).toBe(n);

        console.log(
          `${compression}: size ${(info.size / 1e6).toFixed(1)} MB; build ${buildMs.toFixed(0)} ms; ` +
            `cold scan ${coldScanMs.toFixed(0)} ms; cached scan ${warmScanMs.toFixed(0)} ms; ` +
            `1M cached random seeks ${seekMs.toFixed(0)} ms; 1M point reads ${pointMs.toFixed(0)} ms; ` +
            `1M bloom probes ${bloomMs.toFixed(0)} ms; ` +
            `index+filter ${(reader.approximateMemoryBytes / 1e6).toFixed(2)} MB, ${reader.dataBlocks} blocks`,
        );
        await reader.close();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
