import { describe, expect, it } from 'vitest';
import type { Env } from '../env/index.js';
import { SimWorld } from '../env/sim/index.js';
import { Database } from '../model/index.js';
import { codeOf } from '../util/testing/code-of.js';
import { checkSchemaEntries, RingSchema, SCHEMA_FILE, type SchemaEntry } from './schema-sync.js';
import { readStateFile, writeStateFile } from './state-file.js';

const spec = (name: string, family = 'f') => ({
  name,
  families: [{ name: family }],
  placement: { hashed: { replicationFactor: 3 } },
});

async function open(world: SimWorld, env: Env) {
  const database = await world.settle(Database.open(env, { dir: '/db' }));
  const schema = await world.settle(RingSchema.open(env, '/', database));
  return { database, schema };
}

describe('ring schema', () => {
  it('converges whatever order entries arrive in, and a drop outlives the create', async () => {
    const world = new SimWorld({ seed: 1 });
    const a = await open(world, world.addNode('a').env);
    const b = await open(world, world.addNode('b').env);
    await world.settle(a.schema.create(spec('t1'), 100));
    await world.settle(a.schema.create(spec('t2'), 200));
    const created = a.schema.list();
    await world.settle(a.schema.drop('t1', 300));
    const dropped = a.schema.list();
    // b hears of the drop before the create: the create must not bring t1 back.
    expect(await world.settle(b.schema.merge(dropped))).toBe(true);
    expect(await world.settle(b.schema.merge(created))).toBe(false);
    expect(b.database.listTables()).toEqual(['t2']);
    expect(b.schema.digest).toBe(a.schema.digest);
    expect(b.schema.schemaOf('t1')).toBeUndefined();
    // Recreating a dropped name is a newer version.
    await world.settle(b.schema.create(spec('t1', 'g'), 250));
    const v = b.schema.list().find((e) => e.name === 't1')!;
    expect(v.version).toBe(301);
    await world.settle(a.schema.merge(b.schema.list()));
    expect(a.schema.schemaOf('t1')?.families[0]?.name).toBe('g');
    expect(a.schema.digest).toBe(b.schema.digest);
    expect(await codeOf(world.settle(a.schema.create(spec('t1'), 400)))).toBe('ALREADY_EXISTS');
    expect(await codeOf(world.settle(a.schema.drop('nope', 400)))).toBe('NOT_FOUND');
  });

  it('is durable, and a restart brings the database in line with it', async () => {
    const world = new SimWorld({ seed: 2 });
    const node = world.addNode('a');
    const { database, schema } = await open(world, node.env);
    await world.settle(schema.create(spec('t1'), 100));
    await world.settle(database.close());
    // The table is gone from the database but still in the list (a crash between the two).
    const stored = (await world.settle(readStateFile(node.env, '/', SCHEMA_FILE))) as {
      entries: SchemaEntry[];
    };
    expect(stored.entries.map((e) => e.name)).toEqual(['t1']);
    const db2 = await world.settle(Database.open(node.env, { dir: '/db2' }));
    await world.settle(RingSchema.open(node.env, '/', db2));
    expect(db2.listTables()).toEqual(['t1']);
  });

  it('rejects entries that are not what they claim', () => {
    const ok = { name: 't', version: 1, dropped: true, schema: '' };
    expect(checkSchemaEntries([ok])).toEqual([ok]);
    for (const bad of [
      'x',
      [{ ...ok, version: -1 }],
      [{ ...ok, name: 3 }],
      [{ name: 't', version: 1, dropped: false, schema: '{' }],
      [
        {
          name: 'u',
          version: 1,
          dropped: false,
          schema:
            '{"version":1,"name":"t","families":[{"name":"f"}],"placement":{"kind":"hashed","replicationFactor":1}}',
        },
      ],
    ]) {
      expect(() => checkSchemaEntries(bad)).toThrow();
    }
  });

  it('state files detect damage', async () => {
    const world = new SimWorld({ seed: 3 });
    const env = world.addNode('a').env;
    await world.settle(writeStateFile(env, '/', 's.json', { x: [1, 'two'] }));
    expect(await world.settle(readStateFile(env, '/', 's.json'))).toEqual({ x: [1, 'two'] });
    expect(await world.settle(readStateFile(env, '/', 'missing.json'))).toBeUndefined();
    // The worked example of docs/formats/ring-state.md.
    const example = '{"version":1,"tokens":"5,-3","generation":7}\n07b29b1f\n';
    await world.settle(env.fs.writeFile('/node.json', new TextEncoder().encode(example)));
    expect(await world.settle(readStateFile(env, '/', 'node.json'))).toEqual({
      version: 1,
      tokens: '5,-3',
      generation: 7,
    });
    const bytes = await world.settle(env.fs.readFile('/s.json'));
    for (const at of [0, 3, bytes.length - 3]) {
      const bad = bytes.slice();
      bad[at] = bad[at]! ^ 0x04;
      await world.settle(env.fs.writeFile('/s.json', bad));
      expect(await codeOf(world.settle(readStateFile(env, '/', 's.json')))).toBe('CORRUPTION');
    }
  });
});
