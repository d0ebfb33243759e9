import { afterEach, describe, expect, it } from 'vitest';
import { makeTempRoot, realEnv, removeTempRoot } from '../env/real/index.js';
import type { Env } from '../env/types.js';
import { fromUtf8, utf8 } from '../util/bytes.js';
import { isTesseraError } from '../util/errors.js';
import { Database } from './database.js';
import { Mutation } from './mutation.js';
import type { Tablet } from './tablet.js';

let roots: string[] = [];
let dbs: Database[] = [];
afterEach(async () => {
  for (const d of dbs) await d.close();
  for (const r of roots) removeTempRoot(r);
  roots = [];
  dbs = [];
});

function env(): { env: Env; root: string } {
  const root = makeTempRoot('tessera-db-');
  roots.push(root);
  return { env: realEnv({ name: 'db-test', root, seed: 1 }), root };
}

async function open(e: Env): Promise<Database> {
  const db = await Database.open(e, { dir: 'data' });
  dbs.push(db);
  return db;
}

async function close(db: Database): Promise<void> {
  dbs = dbs.filter((d) => d !== db);
  await db.close();
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'ok';
  } catch (err) {
    return isTesseraError(err) ? err.code : String(err);
  }
}

async function rows(t: Tablet): Promise<string[]> {
  const out: string[] = [];
  for await (const r of t.scan()) {
    out.push(`${fromUtf8(r.row)}=${r.cells.map((c) => fromUtf8(c.value)).join(',')}`);
  }
  return out;
}

const spec = (name: string) => ({ name, families: [{ name: 'f' }] });

describe('Database', () => {
  it('creates, lists sorted, describes, and keeps schemas and data across reopen', async () => {
    const { env: e } = env();
    const db = await open(e);
    expect(db.listTables()).toEqual([]);
    const s = await db.createTable({ name: 'users', families: [{ name: 'f', maxVersions: 2 }] });
    expect(s.families[0]?.maxVersions).toBe(2);
    await db.createTable(spec('accounts'));
    expect(db.listTables()).toEqual(['accounts', 'users']);
    expect(db.describeTable('users')).toEqual(s);
    await db.tablet('users').put(new Mutation('r1').put('f', 'q', 'v1'));
    await db.tablet('accounts').put(new Mutation('a').put('f', 'q', 'x'));
    await close(db);

    const again = await open(e);
    expect(again.listTables()).toEqual(['accounts', 'users']);
    expect(again.describeTable('users')).toEqual(s);
    expect(await rows(again.tablet('users'))).toEqual(['r1=v1']);
    expect(await rows(again.tablet('accounts'))).toEqual(['a=x']);
  });

  it('answers ALREADY_EXISTS, NOT_FOUND and INVALID_ARGUMENT', async () => {
    const { env: e } = env();
    const db = await open(e);
    await db.createTable(spec('t'));
    expect(await codeOf(db.createTable(spec('t')))).toBe('ALREADY_EXISTS');
    expect(await codeOf(db.createTable({ name: 'bad name', families: [{ name: 'f' }] }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await codeOf(db.createTable({ name: 'x', families: [] }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(() => db.tablet('nope'))).toBe('NOT_FOUND');
    expect(await codeOf(() => db.describeTable('nope'))).toBe('NOT_FOUND');
    expect(await codeOf(db.dropTable('nope'))).toBe('NOT_FOUND');
    try {
      db.tablet('nope');
    } catch (err) {
      expect((err as Error).message).toBe("table 'nope' does not exist");
    }
  });

  it('lets exactly one of many concurrent creates of one name win', async () => {
    const { env: e } = env();
    const db = await open(e);
    const codes = await Promise.all(
      Array.from({ length: 8 }, () => codeOf(db.createTable(spec('t')))),
    );
    expect(codes.filter((c) => c === 'ok')).toHaveLength(1);
    expect(codes.filter((c) => c === 'ALREADY_EXISTS')).toHaveLength(7);
    expect(db.listTables()).toEqual(['t']);
  });

  it('drop then recreate gives an empty table, also after reopen', async () => {
    const { env: e } = env();
    const db = await open(e);
    await db.createTable(spec('t'));
    const old = db.tablet('t');
    await old.put(new Mutation('r').put('f', 'q', 'old'));
    await db.dropTable('t');
    expect(db.listTables()).toEqual([]);
    expect(await codeOf(old.get('r'))).toBe('NOT_SERVING');
    expect(await e.fs.list('data/tables')).toEqual([]);
    await db.createTable(spec('t'));
    expect(await rows(db.tablet('t'))).toEqual([]);
    await db.tablet('t').put(new Mutation('s').put('f', 'q', 'new'));
    await close(db);
    const again = await open(e);
    expect(await rows(again.tablet('t'))).toEqual(['s=new']);
    expect(await e.fs.list('data/tables')).toEqual(['t.3']);
  });

  it('deletes orphan table directories at open and keeps live ones', async () => {
    const { env: e } = env();
    const db = await open(e);
    await db.createTable(spec('t'));
    await close(db);
    const orphan = 'data/tables/gone.7';
    await e.fs.mkdir(orphan, { recursive: true });
    await e.fs.writeFile(`${orphan}/x.log`, utf8('junk'));
    const again = await open(e);
    expect(await e.fs.exists(orphan)).toBe(false);
    expect(await e.fs.list('data/tables')).toEqual(['t.1']);
    expect(again.listTables()).toEqual(['t']);
  });

  it('shares the budget evenly, resizing every table store as tables come and go', async () => {
    const { env: e } = env();
    const mib = 1024 * 1024;
    const options = { dir: 'd', store: { memoryBudgetBytes: 64 * mib } };
    let db = await Database.open(e, options);
    const budgets = () => db.listTables().map((n) => db.tablet(n).memoryBudgetBytes / mib);
    await db.createTable(spec('a'));
    expect(budgets()).toEqual([64]);
    await db.createTable(spec('b'));
    expect(budgets()).toEqual([32, 32]);
    for (const n of ['c', 'd']) await db.createTable(spec(n));
    expect(budgets()).toEqual([16, 16, 16, 16]);
    // The block cache shrinks with its store: a store's blocks never exceed its new share.
    const cache = (t: string) =>
      (db.tablet(t) as unknown as { store: { blockCache: { capacityBytes: number } } }).store
        .blockCache.capacityBytes;
    expect(cache('a')).toBeLessThan(16 * mib);
    await db.dropTable('a');
    const third = Math.floor((64 * mib) / 3) / mib;
    expect(budgets()).toEqual([third, third, third]);
    await db.close();
    db = await Database.open(e, options);
    dbs.push(db);
    expect(budgets()).toEqual([third, third, third]);
    // Past budget / 4 MiB tables, each keeps the 4 MiB floor.
    for (let i = 0; i < 14; i++) await db.createTable(spec(`t${i}`));
    expect(new Set(budgets())).toEqual(new Set([4]));
  });

  it('is SHUTTING_DOWN after close', async () => {
    const { env: e } = env();
    const db = await open(e);
    await close(db);
    expect(await codeOf(() => db.listTables())).toBe('SHUTTING_DOWN');
    expect(await codeOf(db.createTable(spec('t')))).toBe('SHUTTING_DOWN');
  });
});
