/**
 * Table schemas: the column families a table declares (retention, compression, bloom filter,
 * block size) and its placement (ordered, or hashed with a replication factor).
 *
 * `tableSchema()` fills defaults and validates; a TableSchema value is always valid and frozen.
 * `encodeTableSchema()` is JSON with a fixed field order (so equal schemas encode to equal
 * bytes) for durable storage; `decodeTableSchema()` validates what it reads.
 */
import {
  defaultFamilyOptions,
  type Compression,
  type FamilyOptions,
  type FamilyOptionsLookup,
  type StoreOptions,
} from '../storage/index.js';
import { fromUtf8, utf8 } from '../util/bytes.js';
import { corruption, invalidArgument, isTesseraError } from '../util/errors.js';

export type { Compression };

export interface FamilySchema {
  readonly name: string;
  /** Versions kept per column (default 1, as in HBase). */
  readonly maxVersions: number;
  /** Cells older than this expire; undefined: never. */
  readonly ttlSeconds?: number;
  readonly compression: Compression;
  readonly bloomFilter: boolean;
  /** Target data block size in bytes. */
  readonly blockSize: number;
}

/**
 * Where a table's rows live. `ordered`: sorted by key and cut into tablets (BigTable). `hashed`:
 * on the token ring, each row on `replicationFactor` nodes (Dynamo/Cassandra). With
 * `datacenters` (Cassandra's NetworkTopologyStrategy) the replicas are counted per datacenter
 * and replicationFactor is their sum; without, the ring's nodes are walked clockwise (its
 * SimpleStrategy). Tombstones of a hashed table are kept `gcGraceSeconds` before compaction may
 * drop them (Cassandra's gc_grace_seconds): a replica that missed a delete must be repaired
 * within that time, or the rows it still holds come back. `sloppyQuorum` (default false) lets
 * a write count hints held for down replicas by other live nodes (Dynamo's sloppy quorum:
 * always writable, but a read may miss the write until the hints are delivered).
 */
export type Placement =
  | { readonly kind: 'ordered' }
  | {
      readonly kind: 'hashed';
      readonly replicationFactor: number;
      readonly gcGraceSeconds: number;
      readonly datacenters?: Readonly<Record<string, number>>;
      /** Present (true) only when set, so schemas written before it read the same. */
      readonly sloppyQuorum?: true;
    };

/**
 * A placement as callers write it: `{ kind: 'hashed', replicationFactor: 3 }` or, the short
 * form, `{ hashed: { replicationFactor: 3 } }` (and `{ ordered: {} }`).
 */
export type PlacementSpec =
  | { readonly kind: 'ordered' }
  | {
      readonly kind: 'hashed';
      readonly replicationFactor?: number;
      readonly gcGraceSeconds?: number;
      readonly datacenters?: Readonly<Record<string, number>>;
      readonly sloppyQuorum?: boolean;
    }
  | { readonly ordered: Readonly<Record<string, never>> }
  | {
      readonly hashed: {
        readonly replicationFactor?: number;
        readonly gcGraceSeconds?: number;
        readonly datacenters?: Readonly<Record<string, number>>;
        readonly sloppyQuorum?: boolean;
      };
    };

export interface TableSchema {
  readonly name: string;
  readonly families: readonly FamilySchema[];
  readonly placement: Placement;
}

/** What a caller writes: everything but the names may be left to the defaults. */
export type FamilySpec = Pick<FamilySchema, 'name'> & Partial<Omit<FamilySchema, 'name'>>;

export interface TableSpec {
  readonly name: string;
  readonly families: readonly FamilySpec[];
  readonly placement?: PlacementSpec;
}

export const tableNameBytesMax = 128;
export const familyNameBytesMax = 64;
export const familiesMax = 256;
export const familyMaxVersionsMax = 1_000_000;
export const blockSizeMin = 256;
export const blockSizeMax = 16 * 1024 * 1024;
export const replicationFactorMax = 15;
/** Cassandra's default gc_grace_seconds: ten days. */
export const gcGraceSecondsDefault = 864_000;
export const gcGraceSecondsMax = 10 * 365 * 24 * 3600;
export const datacentersMax = 16;
/** Replication factor of a hashed table when none is given (Cassandra's common choice). */
export const replicationFactorDefault = 3;
/** TTL bound: its microseconds must stay a safe integer. */
export const ttlSecondsMax = 100 * 365 * 24 * 3600;

export const familyDefaults = Object.freeze({
  maxVersions: 1,
  compression: 'none' as Compression,
  bloomFilter: true,
  blockSize: 64 * 1024,
});

const namePattern = /^[A-Za-z0-9_.-]+$/;
/** Bits per key when a family asks for a bloom filter. */
const bloomBitsPerKey = 10;

function checkName(what: string, name: unknown, max: number): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw invalidArgument(`${what} name must be a non-empty string`);
  }
  if (name.length > max) {
    throw invalidArgument(`${what} name '${name.slice(0, 32)}…' is longer than ${max} characters`);
  }
  if (!namePattern.test(name)) {
    throw invalidArgument(`${what} name '${name}' may only hold [A-Za-z0-9_.-]`);
  }
  if (name === '.' || name === '..') throw invalidArgument(`${what} name must not be '${name}'`);
  return name;
}

function checkInt(what: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw invalidArgument(`${what} must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
  return v;
}

function familySchema(spec: FamilySpec): FamilySchema {
  if (typeof spec !== 'object' || spec === null) throw invalidArgument('family must be an object');
  const name = checkName('column family', spec.name, familyNameBytesMax);
  const where = `family '${name}'`;
  const maxVersions = checkInt(
    `${where} maxVersions`,
    spec.maxVersions ?? familyDefaults.maxVersions,
    1,
    familyMaxVersionsMax,
  );
  const compression = spec.compression ?? familyDefaults.compression;
  if (compression !== 'none' && compression !== 'snappy') {
    throw invalidArgument(`${where} compression must be 'none' or 'snappy'`);
  }
  const bloomFilter = spec.bloomFilter ?? familyDefaults.bloomFilter;
  if (typeof bloomFilter !== 'boolean')
    throw invalidArgument(`${where} bloomFilter must be boolean`);
  const blockSize = checkInt(
    `${where} blockSize`,
    spec.blockSize ?? familyDefaults.blockSize,
    blockSizeMin,
    blockSizeMax,
  );
  const out: FamilySchema = { name, maxVersions, compression, bloomFilter, blockSize };
  if (spec.ttlSeconds !== undefined) {
    const ttlSeconds = checkInt(`${where} ttlSeconds`, spec.ttlSeconds, 1, ttlSecondsMax);
    return Object.freeze({ ...out, ttlSeconds });
  }
  return Object.freeze(out);
}

function hashedPlacement(h: Record<string, unknown>): Placement {
  const gcGraceSeconds = checkInt(
    'placement gcGraceSeconds',
    h['gcGraceSeconds'] ?? gcGraceSecondsDefault,
    0,
    gcGraceSecondsMax,
  );
  const sloppy = h['sloppyQuorum'] ?? false;
  if (typeof sloppy !== 'boolean') throw invalidArgument('placement sloppyQuorum must be boolean');
  const extra = sloppy ? { sloppyQuorum: true as const } : {};
  const dcs = h['datacenters'];
  if (dcs === undefined) {
    const replicationFactor = checkInt(
      'placement replicationFactor',
      h['replicationFactor'] ?? replicationFactorDefault,
      1,
      replicationFactorMax,
    );
    return Object.freeze({ kind: 'hashed', replicationFactor, gcGraceSeconds, ...extra });
  }
  if (typeof dcs !== 'object' || dcs === null || Array.isArray(dcs)) {
    throw invalidArgument('placement datacenters must be an object of datacenter: replicas');
  }
  const names = Object.keys(dcs).sort();
  if (names.length === 0 || names.length > datacentersMax) {
    throw invalidArgument(`placement datacenters must name 1 to ${datacentersMax} datacenters`);
  }
  const datacenters: Record<string, number> = {};
  let total = 0;
  for (const dc of names) {
    checkName('datacenter', dc, familyNameBytesMax);
    const n = checkInt(
      `placement datacenters.${dc}`,
      (dcs as Record<string, unknown>)[dc],
      1,
      replicationFactorMax,
    );
    datacenters[dc] = n;
    total += n;
  }
  if (total > replicationFactorMax) {
    throw invalidArgument(`placement replicas over all datacenters exceed ${replicationFactorMax}`);
  }
  const rf = h['replicationFactor'];
  if (rf !== undefined && rf !== total) {
    throw invalidArgument(
      `placement replicationFactor ${String(rf)} is not the sum of its datacenters' (${total})`,
    );
  }
  return Object.freeze({
    kind: 'hashed',
    replicationFactor: total,
    gcGraceSeconds,
    datacenters: Object.freeze(datacenters),
    ...extra,
  });
}

function placementOf(p: PlacementSpec | undefined): Placement {
  if (p === undefined) return Object.freeze({ kind: 'ordered' });
  if (typeof p !== 'object' || p === null) throw invalidArgument('placement must be an object');
  const o = p as Record<string, unknown>;
  if ('hashed' in o || 'ordered' in o) {
    if ('kind' in o || ('hashed' in o && 'ordered' in o)) {
      throw invalidArgument(`placement must be one of { hashed: {...} } or { ordered: {} }`);
    }
    if ('ordered' in o) return Object.freeze({ kind: 'ordered' });
    const h = o['hashed'];
    if (typeof h !== 'object' || h === null)
      throw invalidArgument('placement hashed must be an object');
    return hashedPlacement(h as Record<string, unknown>);
  }
  if (o['kind'] === 'ordered') return Object.freeze({ kind: 'ordered' });
  if (o['kind'] === 'hashed') return hashedPlacement(o);
  throw invalidArgument(`placement kind must be 'ordered' or 'hashed'`);
}

/** A validated, frozen schema with defaults filled in; INVALID_ARGUMENT naming what is wrong. */
export function tableSchema(spec: TableSpec): TableSchema {
  if (typeof spec !== 'object' || spec === null) throw invalidArgument('schema must be an object');
  const name = checkName('table', spec.name, tableNameBytesMax);
  if (!Array.isArray(spec.families) || spec.families.length === 0) {
    throw invalidArgument(`table '${name}' must declare at least one column family`);
  }
  if (spec.families.length > familiesMax) {
    throw invalidArgument(`table '${name}' declares more than ${familiesMax} column families`);
  }
  const families = spec.families.map(familySchema);
  const seen = new Set<string>();
  for (const f of families) {
    if (seen.has(f.name)) throw invalidArgument(`column family '${f.name}' is declared twice`);
    seen.add(f.name);
  }
  return Object.freeze({
    name,
    families: Object.freeze(families),
    placement: placementOf(spec.placement),
  });
}

export function findFamily(schema: TableSchema, name: string): FamilySchema | undefined {
  return schema.families.find((f) => f.name === name);
}

/** The family's retention as the storage engine applies it. */
export function familyOptionsOf(f: FamilySchema): FamilyOptions {
  return Object.freeze({
    maxVersions: f.maxVersions,
    ttlMicros: f.ttlSeconds === undefined ? undefined : f.ttlSeconds * 1_000_000,
  });
}

/**
 * The lookup a Store needs. Families the schema does not declare (a dropped family whose cells
 * are still stored) get the storage default; reads never select them.
 */
export function familyOptionsLookup(schema: TableSchema): FamilyOptionsLookup {
  const byName = new Map<string, FamilyOptions>();
  for (const f of schema.families) byName.set(f.name, familyOptionsOf(f));
  return (family) => byName.get(fromUtf8(family)) ?? defaultFamilyOptions;
}

/**
 * Store options for a tablet of the table. One store holds every family, so block-level
 * settings are merged: snappy when any family asks for it, the smallest block size, and bloom
 * filters when any family wants them.
 */
export function storeOptionsFor(
  schema: TableSchema,
): Pick<
  StoreOptions,
  'familyOptions' | 'compression' | 'blockBytes' | 'bloomBitsPerKey' | 'tombstoneGraceMicros'
> {
  const fs = schema.families;
  const p = schema.placement;
  return {
    familyOptions: familyOptionsLookup(schema),
    compression: fs.some((f) => f.compression === 'snappy') ? 'snappy' : 'none',
    blockBytes: Math.min(...fs.map((f) => f.blockSize)),
    bloomBitsPerKey: fs.some((f) => f.bloomFilter) ? bloomBitsPerKey : 0,
    // An ordered table has one copy of each row, so its tombstones may go at once; a hashed
    // table's must outlive the repair of any replica that missed them.
    tombstoneGraceMicros: p.kind === 'hashed' ? p.gcGraceSeconds * 1_000_000 : 0,
  };
}

function familyJson(f: FamilySchema): Record<string, unknown> {
  const o: Record<string, unknown> = { name: f.name, maxVersions: f.maxVersions };
  if (f.ttlSeconds !== undefined) o['ttlSeconds'] = f.ttlSeconds;
  o['compression'] = f.compression;
  o['bloomFilter'] = f.bloomFilter;
  o['blockSize'] = f.blockSize;
  return o;
}

/** Stable bytes: the same schema always encodes to the same UTF-8 JSON. */
export function encodeTableSchema(schema: TableSchema): Uint8Array {
  const p = schema.placement;
  // gcGraceSeconds and datacenters only when they differ from what a version-1 schema written
  // before they existed decodes to, so those schemas still encode to their stored bytes.
  const placement =
    p.kind === 'ordered'
      ? { kind: 'ordered' }
      : {
          kind: 'hashed',
          replicationFactor: p.replicationFactor,
          ...(p.gcGraceSeconds === gcGraceSecondsDefault
            ? {}
            : { gcGraceSeconds: p.gcGraceSeconds }),
          ...(p.datacenters === undefined ? {} : { datacenters: p.datacenters }),
          ...(p.sloppyQuorum === true ? { sloppyQuorum: true } : {}),
        };
  return utf8(
    JSON.stringify({
      version: 1,
      name: schema.name,
      families: schema.families.map(familyJson),
      placement,
    }),
  );
}

/** Decodes and validates stored schema bytes; CORRUPTION when they are not a valid schema. */
export function decodeTableSchema(bytes: Uint8Array): TableSchema {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromUtf8(bytes));
  } catch (err) {
    throw corruption(`table schema is not JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null)
    throw corruption('table schema is not an object');
  const o = parsed as Record<string, unknown>;
  if (o['version'] !== 1) throw corruption(`unknown table schema version ${String(o['version'])}`);
  try {
    return tableSchema(o as unknown as TableSpec);
  } catch (err) {
    if (isTesseraError(err, 'INVALID_ARGUMENT'))
      throw corruption(`bad table schema: ${err.message}`);
    throw err;
  }
}
