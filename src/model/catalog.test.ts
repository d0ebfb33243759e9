import { afterEach, describe, expect, it } from 'vitest';
import { makeTempRoot, realEnv, removeTempRoot } from '../env/real/index.js';
import { SimWorld } from '../env/sim/index.js';
import type { Env } from '../env/types.js';
import { isTesseraError } from '../util/errors.js';
import { Catalog, decodeCatalogEntry, encodeCatalogEntry } from './catalog.js';
import { encodeTableSchema, tableSchema } from './schema.js';

let roots: string[] = [];
afterEach(() => {
  for (const r of roots) removeTempRoot(r);
  roots = [];
});

function env(): Env {
  const root = makeTempRoot('tessera-catalog-');
  roots.push(root);
  return realEnv({ name: 'catalog-test', root, seed: 1 });
}

const users = tableSchema({ name: 'users', families: [{ name: 'f', maxVersions: 3 }] });
const logs = tableSchema({ name: 'logs', families: [{ name: 'l', ttlSeconds: 60 }] });

describe('catalog entry encoding', () => {
  it('is version byte, u64 id, then the schema JSON', () => {
    const bytes = encodeCatalogEntry({ schema: users, id: 258 });
    expect([...bytes.subarray(0, 9)]).toEqual([1, 0, 0, 0, 0, 0, 0, 1, 2]);
    expect(bytes.subarray(9)).toEqual(encodeTableSchema(users));
    expect(decodeCatalogEntry('users', bytes)).toEqual({ schema: users, id: 258 });
  });

  it('rejects truncated, unknown-version, mismatched and non-JSON entries as CORRUPTION', () => {
    const good = encodeCatalogEntry({ schema: users, id: 1 });
    const bad: [string, Uint8Array][] = [
      ['users', good.subarray(0, 5)],
      ['users', Uint8Array.from([2, ...good.subarray(1)])],
      ['logs', good],
      ['users', Uint8Array.from([...good.subarray(0, 9), 0x7b])],
    ];
    for (const [name, b] of bad) {
      let code = 'ok';
      try {
        decodeCatalogEntry(name, b);
      } catch (err) {
        code = isTesseraError(err) ? err.code : String(err);
      }
      expect(code).toBe('CORRUPTION');
    }
  });
});

describe('Catalog', () => {
  it('keeps entries and ids across reopen; ids never repeat after a drop', async () => {
    const e = env();
    const c = await Catalog.open(e, 'catalog');
    expect(c.list()).toEqual([]);
    const u = await c.add(users);
    const l = await c.add(logs);
    expect([u.id, l.id]).toEqual([1, 2]);
    await c.remove('logs');
    await c.close();

    const again = await Catalog.open(e, 'catalog');
    expect(again.list()).toEqual([{ schema: users, id: 1 }]);
    // The drop took a sequence number too: a recreate of 'logs' gets a fresh id and is
    // newer than the drop's tombstone.
    const l2 = await again.add(logs);
    expect(l2.id).toBe(4);
    await again.close();

    const third = await Catalog.open(e, 'catalog');
    expect(third.list().map((x) => `${x.schema.name}.${x.id}`)).toEqual(['logs.4', 'users.1']);
    expect(third.get('logs')?.schema).toEqual(logs);
    await third.remove('nope'); // absent: a no-op
    await third.close();
  });

  it('keeps every synced entry across a simulated crash', async () => {
    const world = new SimWorld({ seed: 3 });
    const node = world.addNode('n1');
    const settle = <T>(p: Promise<T>): Promise<T> => world.settle(p, { timeoutMs: 60_000 });
    const c = await settle(Catalog.open(node.env, '/catalog'));
    await settle(c.add(users));
    await settle(c.add(logs));
    await settle(c.remove('users'));
    world.crash('n1');
    world.restart('n1');
    const after = await settle(Catalog.open(world.node('n1').env, '/catalog'));
    expect(after.list()).toEqual([{ schema: logs, id: 2 }]);
    expect((await settle(after.add(users))).id).toBe(4);
    await settle(after.close());
  });
});
