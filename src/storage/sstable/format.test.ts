/** The whole-table worked example of docs/formats/sstable.md, byte for byte. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { realEnv } from '../../env/real/index.js';
import { toHex, utf8 } from '../../util/bytes.js';
import { footerBytes, tableMagic } from './format.js';
import { TableReader } from './table-reader.js';
import { scanAll, writeTable } from './testdata/harness.js';

const documented = [
  '00010161310001026232320000000001000000', // data block
  '006300473f',
  '0ca2200148508400' + '07', // filter: bits, k
  '000b7992ef',
  '0001026300130000000001000000', // index
  '00ca0794de',
  '02010203020001610162', // properties
  '0000593355',
  '2600000000000000' + '0e000000', // footer
  '1800000000000000' + '09000000',
  '3900000000000000' + '0a000000',
  '01000000',
  '55eaa89e',
  '545352412d535354',
].join('');

describe('the documented example table', () => {
  it('is what the writer produces, and reads back', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tessera-sstable-doc-'));
    try {
      const env = realEnv({ root, seed: 1 });
      const rows = [
        [utf8('a'), utf8('1')],
        [utf8('b'), utf8('22')],
      ] as const;
      const info = await writeTable(env.fs, '/e.sst', rows, { compression: 'none' });
      const bytes = await env.fs.readFile('/e.sst');
      expect(info.size).toBe(124);
      expect(toHex(bytes)).toBe(documented);
      expect(toHex(bytes.subarray(bytes.length - 8))).toBe(toHex(tableMagic));
      expect(footerBytes).toBe(52);
      const reader = await TableReader.open(env.fs, '/e.sst', 1, undefined);
      expect((await scanAll(reader.iterator())).map(([k, v]) => toHex(k) + ':' + toHex(v))).toEqual(
        ['61:31', '62:3232'],
      );
      await reader.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
