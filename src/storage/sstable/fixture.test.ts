/**
 * Format compatibility: tables written by format version 1 are checked in
 * (testdata/v1-none.sst, testdata/v1-snappy.sst) and must read back exactly, by this build and
 * every later one. To (re)create them, deliberately:
 *
 *     TESSERA_WRITE_SSTABLE_FIXTURES=1 npx vitest run src/storage/sstable/fixture.test.ts
 *
 * Never regenerate the files of a released version to make this test pass: a reader that
 * cannot read them has broken compatibility.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { realEnv } from '../../env/real/index.js';
import { toHex, utf8 } from '../../util/bytes.js';
import { settle } from '../iterator.js';
import { TableReader } from './index.js';
import { type Entry, scanAll, writeTable } from './testdata/harness.js';

const testdata = fileURLToPath(new URL('./testdata', import.meta.url));
const writeFixtures = process.env.TESSERA_WRITE_SSTABLE_FIXTURES === '1';

/** The fixtures' filter key: the bytes up to and including the first '/'. */
function rowOf(key: Uint8Array): Uint8Array {
  const slash = key.indexOf(0x2f);
  return slash < 0 ? key : key.subarray(0, slash + 1);
}

/** The fixed contents: 60 entries over 15 rows, with compressible and binary values. */
function fixtureEntries(): Entry[] {
  const out: Entry[] = [];
  for (let row = 0; row < 15; row++) {
    for (let col = 0; col < 4; col++) {
      const key = utf8(`row${String(row).padStart(2, '0')}/col${col}`);
      const value =
        col === 3
          ? Uint8Array.from({ length: 20 + row }, (_, i) => (i * 37 + row * 11 + col) & 0xff)
          : utf8(`value of row ${row} column ${col} `.repeat(1 + (col % 3)));
      out.push([key, value]);
    }
  }
  out.push([Uint8Array.of(0xff, 0x00, 0xfe), new Uint8Array(0)]);
  return out;
}

const fixtureOptions = {
  blockBytes: 256,
  restartInterval: 4,
  bloomBitsPerKey: 10,
  filterKey: rowOf,
};

describe('format version 1 fixtures', () => {
  for (const compression of ['none', 'snappy'] as const) {
    const name = `v1-${compression}.sst`;

    it.runIf(writeFixtures)(`writes ${name}`, async () => {
      const env = realEnv({ root: testdata, seed: 1 });
      await writeTable(env.fs, `/${name}`, fixtureEntries(), { ...fixtureOptions, compression });
    });

    it(`reads ${name} exactly`, async () => {
      const env = realEnv({ root: testdata, seed: 1 });
      const reader = await TableReader.open(env.fs, `/${name}`, 1, undefined);
      const want = fixtureEntries();
      const got = await scanAll(reader.iterator());
      expect(got.map(([k, v]) => `${toHex(k)}=${toHex(v)}`)).toEqual(
        want.map(([k, v]) => `${toHex(k)}=${toHex(v)}`),
      );
      expect(reader.info).toMatchObject({
        entries: want.length,
        filterKeys: 16,
        compression,
        smallest: want[0]![0],
        largest: want[want.length - 1]![0],
        rawKeyBytes: want.reduce((n, [k]) => n + k.length, 0),
        rawValueBytes: want.reduce((n, [, v]) => n + v.length, 0),
      });
      expect(reader.dataBlocks).toBeGreaterThan(5);
      for (const [k] of want) expect(reader.mayContain(rowOf(k))).toBe(true);
      const it = reader.iterator();
      await settle(it.seek(utf8('row07/')));
      expect(it.key()).toEqual(utf8('row07/col0'));
      await reader.close();
    });

    it(`rewrites ${name} byte for byte (the writer's output has not drifted)`, async () => {
      // If this fails because the writer changed on purpose (a new version), keep the v1
      // files and the test above, and add fixtures for the new version.
      const env = realEnv({ root: testdata, seed: 1 });
      const fixture = await env.fs.readFile(`/${name}`);
      const dir = mkdtempSync(join(tmpdir(), 'tessera-fixture-'));
      try {
        const tmp = realEnv({ root: dir, seed: 1 });
        await writeTable(tmp.fs, '/again.sst', fixtureEntries(), {
          ...fixtureOptions,
          compression,
        });
        expect(toHex(await tmp.fs.readFile('/again.sst'))).toBe(toHex(fixture));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
