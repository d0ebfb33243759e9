/**
 * Compatibility: a store directory written by format version 1 (CURRENT, a manifest, tables in
 * two levels, and a WAL with writes that were never flushed), checked in under
 * testdata/store-v1. Every later build must open it and read exactly these cells; a change that
 * breaks this is a format change and needs a new version and a migration.
 *
 * Regenerate (only when the format version changes, with a new directory name):
 *     TESSERA_WRITE_STORE_FIXTURE=1 npx vitest run src/storage/store.fixture.test.ts
 */
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { realEnv } from '../env/real/index.js';
import { fromUtf8, utf8 } from '../util/bytes.js';
import { Store } from './store.js';
import { WriteBatch } from './write-batch.js';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'testdata', 'store-v1');
const write = process.env.TESSERA_WRITE_STORE_FIXTURE === '1';

// "row\0z" sorts first: 00 < '-' (2d).
const expected = [
  'row\u0000z f:@70=binary row, empty qualifier',
  'row-a f:q1@30=a-30',
  'row-a f:q1@10=a-10',
  'row-a f:q2@10=a-q2',
  'row-b g:x@20=b-g-x',
  'row-c f:q@40=c-after-delete',
  'row-e f:q@60=wal-only',
];

async function build(root: string): Promise<void> {
  const env = realEnv({ name: 'fixture', root, seed: 1 });
  const store = await Store.open(env, { dir: 'db', compression: 'snappy' });
  const f = utf8('f');
  const g = utf8('g');
  const put = (row: string, fam: Uint8Array, q: string, ts: number, v: string) =>
    store.write(new WriteBatch().put(utf8(row), fam, utf8(q), ts, utf8(v)));
  await put('row-a', f, 'q1', 10, 'a-10');
  await put('row-a', f, 'q2', 10, 'a-q2');
  await put('row-a', f, 'q3', 10, 'a-q3');
  await put('row-b', f, 'x', 20, 'b-f-x');
  await put('row-b', g, 'x', 20, 'b-g-x');
  await put('row-c', f, 'q', 20, 'c-before-delete');
  await put('row-d', f, 'q', 20, 'd');
  await store.compactAll(); // tables in the last level
  await put('row-a', f, 'q1', 30, 'a-30');
  await store.write(new WriteBatch().deleteColumn(utf8('row-a'), f, utf8('q3'), 10));
  await store.write(new WriteBatch().deleteFamily(utf8('row-b'), f, 25));
  await store.write(new WriteBatch().deleteRow(utf8('row-c'), 30).deleteRow(utf8('row-d'), 30));
  await put('row-c', f, 'q', 40, 'c-after-delete');
  await store.flush(); // a level-0 table over the last level
  await put('row-e', f, 'q', 60, 'wal-only');
  await store.write(
    new WriteBatch().put(
      utf8('row\0z'),
      f,
      new Uint8Array(0),
      70,
      utf8('binary row, empty qualifier'),
    ),
  );
  await store.close(); // the last two writes stay in the WAL
}

async function read(root: string): Promise<string[]> {
  const store = await Store.open(realEnv({ name: 'fixture', root, seed: 1 }), { dir: 'db' });
  const out: string[] = [];
  for await (const r of store.scan()) {
    for (const c of r.cells) {
      out.push(
        `${fromUtf8(c.row)} ${fromUtf8(c.family)}:${fromUtf8(c.qualifier)}@${c.timestamp}=${fromUtf8(c.value)}`,
      );
    }
  }
  await store.close();
  return out;
}

describe('store format v1 fixture', () => {
  it.runIf(write)('writes the fixture', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tessera-fixture-'));
    await build(root);
    rmSync(fixture, { recursive: true, force: true });
    cpSync(join(root, 'db'), fixture, { recursive: true });
    rmSync(root, { recursive: true, force: true });
  });

  it('opens a store written by version 1 and reads exactly its cells', async () => {
    const names = readdirSync(fixture);
    expect(names).toContain('CURRENT');
    expect(names.some((n) => n.endsWith('.wal'))).toBe(true);
    expect(names.filter((n) => n.endsWith('.sst')).length).toBeGreaterThanOrEqual(2);
    const root = mkdtempSync(join(tmpdir(), 'tessera-fixture-'));
    try {
      cpSync(fixture, join(root, 'db'), { recursive: true });
      expect(await read(root)).toEqual(expected);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
