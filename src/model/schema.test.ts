import { describe, expect, it } from 'vitest';
import { utf8 } from '../util/bytes.js';
import { isTesseraError } from '../util/errors.js';
import {
  decodeTableSchema,
  encodeTableSchema,
  familyOptionsLookup,
  storeOptionsFor,
  tableSchema,
  type TableSpec,
} from './schema.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return isTesseraError(err) ? `${err.code}: ${err.message}` : `foreign ${String(err)}`;
  }
}

describe('tableSchema', () => {
  it('fills HBase-like defaults and freezes the result', () => {
    const s = tableSchema({ name: 'users', families: [{ name: 'cf' }] });
    expect(s).toEqual({
      name: 'users',
      families: [
        { name: 'cf', maxVersions: 1, compression: 'none', bloomFilter: true, blockSize: 65536 },
      ],
      placement: { kind: 'ordered' },
    });
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.families[0])).toBe(true);
  });

  it.each<[string, TableSpec, string]>([
    ['empty table name', { name: '', families: [{ name: 'f' }] }, 'table name'],
    ['bad characters', { name: 'a b', families: [{ name: 'f' }] }, '[A-Za-z0-9_.-]'],
    ['long table name', { name: 'x'.repeat(129), families: [{ name: 'f' }] }, 'longer than 128'],
    ['no families', { name: 't', families: [] }, 'at least one column family'],
    ['family name', { name: 't', families: [{ name: 'f/g' }] }, 'column family name'],
    ['long family', { name: 't', families: [{ name: 'f'.repeat(65) }] }, 'longer than 64'],
    ['dot family', { name: 't', families: [{ name: '..' }] }, "must not be '..'"],
    ['duplicate', { name: 't', families: [{ name: 'f' }, { name: 'f' }] }, 'declared twice'],
    ['versions', { name: 't', families: [{ name: 'f', maxVersions: 0 }] }, 'maxVersions'],
    ['ttl', { name: 't', families: [{ name: 'f', ttlSeconds: 1.5 }] }, 'ttlSeconds'],
    ['block', { name: 't', families: [{ name: 'f', blockSize: 10 }] }, 'blockSize'],
    [
      'compression',
      { name: 't', families: [{ name: 'f', compression: 'zstd' as 'none' }] },
      'compression',
    ],
    [
      'replication',
      { name: 't', families: [{ name: 'f' }], placement: { kind: 'hashed', replicationFactor: 0 } },
      'replicationFactor',
    ],
  ])('rejects %s with INVALID_ARGUMENT', (_what, spec, text) => {
    const r = codeOf(() => tableSchema(spec));
    expect(r).toMatch(/^INVALID_ARGUMENT/);
    expect(r).toContain(text);
  });

  it('accepts the name characters allowed and hashed placement', () => {
    const s = tableSchema({
      name: 'A-z_0.9',
      families: [{ name: 'f.1', maxVersions: 3, ttlSeconds: 60 }],
      placement: { kind: 'hashed', replicationFactor: 3 },
    });
    expect(s.placement).toEqual({ kind: 'hashed', replicationFactor: 3, gcGraceSeconds: 864_000 });
    expect(s.families[0]!.ttlSeconds).toBe(60);
  });

  it('accepts the short placement form, datacenters and a grace period', () => {
    const t = (placement: unknown) =>
      tableSchema({ name: 't', families: [{ name: 'f' }], placement: placement as never })
        .placement;
    expect(t({ hashed: { replicationFactor: 2 } })).toEqual({
      kind: 'hashed',
      replicationFactor: 2,
      gcGraceSeconds: 864_000,
    });
    expect(t({ hashed: {} })).toMatchObject({ replicationFactor: 3 });
    expect(t({ ordered: {} })).toEqual({ kind: 'ordered' });
    expect(t({ hashed: { datacenters: { west: 2, east: 3 }, gcGraceSeconds: 60 } })).toEqual({
      kind: 'hashed',
      replicationFactor: 5,
      gcGraceSeconds: 60,
      datacenters: { east: 3, west: 2 },
    });
    for (const [bad, text] of [
      [{ hashed: { datacenters: { a: 2 }, replicationFactor: 3 } }, 'not the sum'],
      [{ hashed: { datacenters: {} } }, 'datacenters'],
      [{ hashed: { datacenters: { a: 0 } } }, 'datacenters.a'],
      [{ hashed: { gcGraceSeconds: -1 } }, 'gcGraceSeconds'],
      [{ hashed: 3 }, 'hashed must be an object'],
      [{ hashed: {}, ordered: {} }, 'one of'],
      [{ hashed: {}, kind: 'hashed' }, 'one of'],
    ] as const) {
      const r = codeOf(() => t(bad));
      expect(r).toMatch(/^INVALID_ARGUMENT/);
      expect(r).toContain(text);
    }
  });

  it('keeps tombstones for the grace period of a hashed table only', () => {
    const ordered = tableSchema({ name: 't', families: [{ name: 'f' }] });
    const hashed = tableSchema({
      name: 't',
      families: [{ name: 'f' }],
      placement: { hashed: { gcGraceSeconds: 90 } },
    });
    expect(storeOptionsFor(ordered).tombstoneGraceMicros).toBe(0);
    expect(storeOptionsFor(hashed).tombstoneGraceMicros).toBe(90_000_000);
  });
});

describe('schema codec', () => {
  const spec: TableSpec = {
    name: 'events',
    families: [
      { name: 'a', maxVersions: 5, ttlSeconds: 3600, compression: 'snappy', blockSize: 4096 },
      { name: 'b', bloomFilter: false },
    ],
    placement: { kind: 'hashed', replicationFactor: 3 },
  };

  it('round-trips and encodes equal schemas to equal bytes', () => {
    const s = tableSchema(spec);
    const bytes = encodeTableSchema(s);
    expect(decodeTableSchema(bytes)).toEqual(s);
    const dcs = tableSchema({
      ...spec,
      placement: { hashed: { datacenters: { b: 1, a: 2 }, gcGraceSeconds: 5 } },
    });
    expect(decodeTableSchema(encodeTableSchema(dcs))).toEqual(dcs);
    expect(new TextDecoder().decode(encodeTableSchema(dcs))).toContain(
      '"placement":{"kind":"hashed","replicationFactor":3,"gcGraceSeconds":5,"datacenters":{"a":2,"b":1}}',
    );
    // Key order of the input does not matter.
    const reordered = tableSchema({
      placement: { replicationFactor: 3, kind: 'hashed' } as const,
      families: spec.families.map((f) => Object.fromEntries(Object.entries(f).reverse())) as [],
      name: 'events',
    });
    expect(encodeTableSchema(reordered)).toEqual(bytes);
    expect(new TextDecoder().decode(bytes)).toBe(
      '{"version":1,"name":"events","families":[{"name":"a","maxVersions":5,"ttlSeconds":3600,' +
        '"compression":"snappy","bloomFilter":true,"blockSize":4096},{"name":"b","maxVersions":1,' +
        '"compression":"none","bloomFilter":false,"blockSize":65536}],' +
        '"placement":{"kind":"hashed","replicationFactor":3}}',
    );
  });

  it('reports bad bytes as CORRUPTION', () => {
    expect(codeOf(() => decodeTableSchema(utf8('{nope')))).toMatch(/^CORRUPTION/);
    expect(codeOf(() => decodeTableSchema(utf8('{"version":2}')))).toMatch(/^CORRUPTION/);
    expect(codeOf(() => decodeTableSchema(utf8('{"version":1,"name":"t","families":[]}')))).toMatch(
      /^CORRUPTION: bad table schema/,
    );
  });
});

describe('family options for the store', () => {
  it('maps retention per family and merges block settings', () => {
    const s = tableSchema({
      name: 't',
      families: [
        { name: 'a', maxVersions: 5, ttlSeconds: 2, blockSize: 8192 },
        { name: 'b', compression: 'snappy', bloomFilter: false, blockSize: 1024 },
      ],
    });
    const lookup = familyOptionsLookup(s);
    expect(lookup(utf8('a'))).toEqual({ maxVersions: 5, ttlMicros: 2_000_000 });
    expect(lookup(utf8('b'))).toEqual({ maxVersions: 1, ttlMicros: undefined });
    expect(lookup(utf8('gone')).maxVersions).toBe(Number.MAX_SAFE_INTEGER);
    const o = storeOptionsFor(s);
    expect(o.compression).toBe('snappy');
    expect(o.blockBytes).toBe(1024);
    expect(o.bloomBitsPerKey).toBe(10);
  });
});
