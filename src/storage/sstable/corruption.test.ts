/**
 * Damaged tables: every flipped byte must surface as CORRUPTION naming the file (and the
 * block offset where a block is at fault) — never as wrong data or a foreign exception — and
 * arbitrary garbage handed to the reader must fail the same way.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realEnv } from '../../env/real/index.js';
import type { Env, FileSystem } from '../../env/types.js';
import { toHex, utf8 } from '../../util/bytes.js';
import { crc32c, maskCrc } from '../../util/crc32c.js';
import { isTesseraError } from '../../util/errors.js';
import { Prng } from '../../util/prng.js';
import { BlockCache } from '../cache/index.js';
import { settle } from '../iterator.js';
import { Block } from './block.js';
import { readBlock } from './block-reader.js';
import { type BlockHandle, decodeFooter } from './footer.js';
import { footerBytes, footerChecksumAt } from './format.js';
import { TableIndex } from './table-index.js';
import { TableReader } from './table-reader.js';
import { type Entry, memoryFs, randomEntries, scanAll, writeTable } from './testdata/harness.js';

let root: string;
let env: Env;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'tessera-sstable-corrupt-'));
  env = realEnv({ root, seed: 1 });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const path = '/t.sst';

function same(a: readonly Entry[], b: readonly Entry[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (toHex(a[i]![0]) !== toHex(b[i]![0]) || toHex(a[i]![1]) !== toHex(b[i]![1])) return false;
  }
  return true;
}

/** Opens the table, scans it and seeks to a sample of keys; how that ended. */
async function readBack(
  fs: FileSystem,
  expected: readonly Entry[],
): Promise<'corruption' | 'correct' | 'wrong'> {
  try {
    const reader = await TableReader.open(fs, path, 1, new BlockCache(1 << 20));
    try {
      const it = reader.iterator({ fillCache: false });
      for (let i = 0; i < expected.length; i += 7) {
        const [k, v] = expected[i]!;
        await settle(it.seek(k));
        if (!it.valid() || toHex(it.key()) !== toHex(k) || toHex(it.value()) !== toHex(v)) {
          return 'wrong';
        }
      }
      return same(await scanAll(reader.iterator()), expected) ? 'correct' : 'wrong';
    } finally {
      await reader.close();
    }
  } catch (err) {
    if (!isTesseraError(err, 'CORRUPTION')) throw err;
    expect(err.message).toContain(path);
    expect(err.details?.path).toBe(path);
    const offset = err.details?.offset;
    if (offset !== undefined) expect(err.message).toContain(`offset ${offset}`);
    return 'corruption';
  }
}

/** Every block of a sound table (data blocks, then filter, index, properties). */
async function blocksOf(bytes: Uint8Array): Promise<BlockHandle[]> {
  const fs = memoryFs(new Map([[path, bytes]]));
  const file = await fs.open(path);
  const footer = decodeFooter(bytes.subarray(bytes.length - footerBytes), path, bytes.length);
  const index = TableIndex.parse(
    Block.parse(await readBlock(file, path, footer.index), path, footer.index.offset),
    path,
    footer.filter.size > 0 ? footer.filter.offset : footer.index.offset,
  );
  const handles: BlockHandle[] = [];
  for (let i = 0; i < index.count; i++)
    handles.push({ offset: index.offset(i), size: index.size(i) });
  handles.push(footer.index, footer.properties);
  if (footer.filter.size > 0) handles.push(footer.filter);
  return handles;
}

describe('a flipped byte anywhere', () => {
  for (const compression of ['none', 'snappy'] as const) {
    it(`is caught at every position of a small table (${compression})`, async () => {
      const rows = randomEntries(new Prng(1), 300, 20);
      await writeTable(env.fs, path, rows, { compression, blockBytes: 512 });
      const good = await env.fs.readFile(path);
      expect(await readBack(memoryFs(new Map([[path, good]])), rows)).toBe('correct');
      const prng = new Prng(2);
      const tally = { corruption: 0, correct: 0, wrong: 0 };
      for (let pos = 0; pos < good.length; pos++) {
        const bad = good.slice();
        bad[pos] = good[pos]! ^ prng.between(1, 255);
        tally[await readBack(memoryFs(new Map([[path, bad]])), rows)]++;
      }
      // Every byte is under a checksum: nothing goes unnoticed.
      expect(tally).toEqual({ corruption: good.length, correct: 0, wrong: 0 });
    });
  }

  it('is caught at 500 random positions of a large table on real files', async () => {
    const rows = randomEntries(new Prng(3), 10_000);
    await writeTable(env.fs, path, rows);
    const good = await env.fs.readFile(path);
    const prng = new Prng(4);
    const tally = { corruption: 0, correct: 0, wrong: 0 };
    for (let n = 0; n < 500; n++) {
      const bad = good.slice();
      const pos = prng.int(good.length);
      bad[pos] = good[pos]! ^ (1 << prng.int(8));
      if (n < 20) {
        // Some through the real file system, the rest in memory for speed.
        await env.fs.writeFile(path, bad);
        tally[await readBack(env.fs, rows)]++;
      } else {
        tally[await readBack(memoryFs(new Map([[path, bad]])), rows)]++;
      }
    }
    expect(tally).toEqual({ corruption: 500, correct: 0, wrong: 0 });
  });

  it('names the block and its offset when a data block is damaged', async () => {
    const rows = randomEntries(new Prng(5), 2000);
    await writeTable(env.fs, path, rows, { compression: 'none' });
    const bytes = await env.fs.readFile(path);
    const [, second] = await blocksOf(bytes);
    bytes[second!.offset + 3] = bytes[second!.offset + 3]! ^ 0x40;
    const reader = await TableReader.open(memoryFs(new Map([[path, bytes]])), path, 1, undefined);
    await expect(scanAll(reader.iterator())).rejects.toThrow(
      `checksum mismatch in block at offset ${second!.offset} of ${path}`,
    );
  });
});

describe('fuzz', () => {
  it('garbage files fail to open with CORRUPTION', async () => {
    const prng = new Prng(6);
    const rows = randomEntries(new Prng(7), 500);
    await writeTable(env.fs, path, rows, { blockBytes: 256 });
    const good = await env.fs.readFile(path);
    for (let n = 0; n < 3000; n++) {
      let bytes: Uint8Array;
      switch (n % 5) {
        case 0: // random bytes
          bytes = prng.bytes(prng.between(0, 2000));
          break;
        case 1: // random bytes ending in a valid footer's magic and version
          bytes = prng.bytes(prng.between(0, 2000));
          if (bytes.length >= footerBytes) {
            bytes.set(good.subarray(good.length - 16), bytes.length - 16);
          }
          break;
        case 2: // truncated
          bytes = good.slice(0, prng.int(good.length));
          break;
        case 3: // grown
          bytes = new Uint8Array(good.length + prng.between(1, 100));
          bytes.set(good);
          bytes.set(prng.bytes(bytes.length - good.length), good.length);
          break;
        default: {
          // several bytes changed
          bytes = good.slice();
          for (let i = prng.between(2, 20); i > 0; i--)
            bytes[prng.int(bytes.length)] = prng.int(256);
        }
      }
      const outcome = await readBack(memoryFs(new Map([[path, bytes]])), rows);
      expect(outcome).toBe('corruption');
    }
  });

  for (const compression of ['none', 'snappy'] as const) {
    it(`re-checksummed garbage inside blocks raises only CORRUPTION (${compression})`, async () => {
      // Mutations that recompute the damaged block's checksum reach every parser behind the
      // checksums (blocks, index, filter, properties, snappy, footer handles). Wrong answers
      // are possible then; crashes, hangs and foreign errors are not.
      const prng = new Prng(compression === 'none' ? 8 : 9);
      const rows = randomEntries(new Prng(10), 600, 60);
      await writeTable(env.fs, path, rows, { compression, blockBytes: 300, restartInterval: 4 });
      const good = await env.fs.readFile(path);
      const blocks = await blocksOf(good);
      const tally = { corruption: 0, correct: 0, wrong: 0 };
      for (let n = 0; n < 1500; n++) {
        const bytes = good.slice();
        if (n % 10 === 0) {
          // The footer, re-signed.
          const at = bytes.length - footerBytes;
          for (let i = prng.between(1, 3); i > 0; i--)
            bytes[at + prng.int(footerChecksumAt)] = prng.int(256);
          const crc = maskCrc(crc32c(bytes.subarray(at, at + footerChecksumAt)));
          new DataView(bytes.buffer).setUint32(at + footerChecksumAt, crc, true);
        } else {
          const b = blocks[prng.int(blocks.length)]!;
          for (let i = prng.between(1, 4); i > 0; i--) {
            // Contents or the type byte; sometimes a small value, which varints love.
            bytes[b.offset + prng.int(b.size + 1)] = prng.chance(0.5) ? prng.int(256) : prng.int(4);
          }
          const crc = maskCrc(crc32c(bytes.subarray(b.offset, b.offset + b.size + 1)));
          new DataView(bytes.buffer).setUint32(b.offset + b.size + 1, crc, true);
        }
        tally[await readBack(memoryFs(new Map([[path, bytes]])), rows)]++;
      }
      expect(tally.corruption).toBeGreaterThan(300);
    });
  }

  it('refuses snappy blocks that claim absurd sizes', async () => {
    const rows: Entry[] = [[utf8('k'), new Uint8Array(5000).fill(1)]];
    await writeTable(env.fs, path, rows, { compression: 'snappy' });
    const bytes = await env.fs.readFile(path);
    const [data] = await blocksOf(bytes);
    // The snappy stream starts with its uncompressed length: claim 2^31 - 1.
    bytes.set([0xff, 0xff, 0xff, 0xff, 0x07], data!.offset);
    const crc = maskCrc(crc32c(bytes.subarray(data!.offset, data!.offset + data!.size + 1)));
    new DataView(bytes.buffer).setUint32(data!.offset + data!.size + 1, crc, true);
    expect(await readBack(memoryFs(new Map([[path, bytes]])), rows)).toBe('corruption');
  });
});
