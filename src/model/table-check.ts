/**
 * Checks on table request bodies (table-protocol.ts) before the dispatcher (table-dispatch.ts)
 * acts on them. Requests come from untrusted peers, so every field's type and range is checked
 * here, with INVALID_ARGUMENT naming the field (`mutation.ops[2].qualifier`). What these
 * accept is well-typed; the values are then checked against the schema and limits by the
 * tablet. Optional fields may be absent or nil (msgpack encodes `undefined` as nil). Integers
 * may arrive as a number or, from other msgpack encoders, as an int64 bigint within safe range.
 */
import { invalidArgument, type TesseraError } from '../util/errors.js';
import { CONSISTENCY_LEVELS, isConsistencyLevel, type ConsistencyLevel } from './consistency.js';
import type { CompareOp, Filter } from './filters.js';
import { Mutation, type MutationLimits } from './mutation.js';
import type { ColumnSpec, TimeRange } from './read-spec.js';
import { familiesMax, familyNameBytesMax, tableNameBytesMax, type TableSpec } from './schema.js';
import type { WireCondition, WireGetSpec, WireScanSpec } from './table-protocol.js';

/** Nesting of and/or filters a request may use. */
export const filterDepthMax = 16;
/** Filters (every node of the tree) in one request. */
export const filterNodesMax = 1_000;
/** Single columns one read may select. */
export const readColumnsMax = 10_000;

export type Obj = Readonly<Record<string, unknown>>;

const compareOps: readonly CompareOp[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'];

function typeName(v: unknown): string {
  if (v === null) return 'nil';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

export function badField(field: string, want: string, got: unknown): TesseraError {
  return invalidArgument(`${field} must be ${want}, got ${typeName(got)}`, { field });
}

/** The field's value, with nil meaning absent. */
function field(o: Obj, key: string): unknown {
  const v = o[key];
  return v === null ? undefined : v;
}

export function obj(v: unknown, name: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) {
    throw badField(name, 'a map', v);
  }
  return v as Obj;
}

function str(o: Obj, key: string, name: string, maxChars: number): string {
  const v = field(o, key);
  if (typeof v !== 'string') throw badField(name, 'a string', v);
  if (v.length > maxChars) {
    throw invalidArgument(`${name} is longer than ${maxChars} characters`, { field: name });
  }
  return v;
}

export function bytes(o: Obj, key: string, name: string): Uint8Array {
  const v = field(o, key);
  if (!(v instanceof Uint8Array)) throw badField(name, 'bytes', v);
  // The wire decoder hands out plain Uint8Arrays; a Node Buffer (an embedded caller's) has a
  // slice() that is a view rather than a copy, and a plain Uint8Array over the same memory
  // keeps code written for Uint8Array from writing into it.
  return Object.getPrototypeOf(v) === Uint8Array.prototype
    ? v
    : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function optBytes(o: Obj, key: string, name: string): Uint8Array | undefined {
  return field(o, key) === undefined ? undefined : bytes(o, key, name);
}

export function int(o: Obj, key: string, name: string, min: number, max: number): number {
  let v = field(o, key);
  if (typeof v === 'bigint' && v >= BigInt(min) && v <= BigInt(max)) v = Number(v);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw invalidArgument(
      `${name} must be an integer in [${min}, ${max}], got ${typeof v === 'number' || typeof v === 'bigint' ? String(v) : typeName(v)}`,
      { field: name },
    );
  }
  return v;
}

export function optInt(
  o: Obj,
  key: string,
  name: string,
  min: number,
  max: number,
): number | undefined {
  return field(o, key) === undefined ? undefined : int(o, key, name, min, max);
}

function optBool(o: Obj, key: string, name: string): boolean | undefined {
  const v = field(o, key);
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw badField(name, 'a boolean', v);
  return v;
}

function arr(o: Obj, key: string, name: string, max: number): readonly unknown[] {
  const v = field(o, key);
  if (!Array.isArray(v)) throw badField(name, 'an array', v);
  if (v.length > max) {
    throw invalidArgument(`${name} has ${v.length} elements, more than ${max}`, { field: name });
  }
  return v;
}

export function tableName(o: Obj, name = 'table'): string {
  return str(o, 'table', name, tableNameBytesMax);
}

/**
 * The request's optional consistency level (table.mutate, table.get, table.batch), or
 * undefined when it names none. Exact names only: the wire takes `QUORUM`, not `quorum`, so
 * that every client sends one spelling (the TypeScript client and the shell fold case before
 * sending).
 */
export function consistency(o: Obj, name = 'consistency'): ConsistencyLevel | undefined {
  const v = field(o, 'consistency');
  if (v === undefined) return undefined;
  if (!isConsistencyLevel(v)) {
    throw invalidArgument(`${name} must be one of ${CONSISTENCY_LEVELS.join(', ')}`, {
      field: name,
    });
  }
  return v;
}

export function family(o: Obj, key: string, name: string): string {
  return str(o, key, name, familyNameBytesMax);
}

const timestampMax = Number.MAX_SAFE_INTEGER;

function compareOp(o: Obj, key: string, name: string): CompareOp {
  const v = field(o, key);
  if (!compareOps.includes(v as CompareOp)) {
    throw invalidArgument(`${name} must be one of ${compareOps.join(', ')}`, { field: name });
  }
  return v as CompareOp;
}

// ---------------------------------------------------------------------------------------------
// Table specs

/** A TableSpec with only known fields and no nils; tableSchema() then checks the values. */
export function tableSpec(v: unknown, name: string): TableSpec {
  const o = obj(v, name);
  const families = arr(o, 'families', `${name}.families`, familiesMax).map((f, i) => {
    const fo = obj(f, `${name}.families[${i}]`);
    const out: Record<string, unknown> = {};
    for (const k of [
      'name',
      'maxVersions',
      'ttlSeconds',
      'compression',
      'bloomFilter',
      'blockSize',
    ]) {
      const fv = field(fo, k);
      if (fv !== undefined) out[k] = typeof fv === 'bigint' ? Number(fv) : fv;
    }
    return out as unknown as TableSpec['families'][number];
  });
  const spec: Record<string, unknown> = { name: field(o, 'name'), families };
  const p = field(o, 'placement');
  if (p !== undefined) {
    spec['placement'] = placementFields(obj(p, `${name}.placement`), `${name}.placement`);
  }
  return spec as unknown as TableSpec;
}

/**
 * The fields of a placement (either form, see schema.ts's PlacementSpec), numbers as numbers;
 * tableSchema() validates the values.
 */
function placementFields(po: Obj, name: string): Record<string, unknown> {
  const num = (v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : v);
  const out: Record<string, unknown> = {};
  for (const k of ['kind', 'replicationFactor', 'gcGraceSeconds', 'sloppyQuorum']) {
    const v = field(po, k);
    if (v !== undefined) out[k] = num(v);
  }
  const dcs = field(po, 'datacenters');
  if (dcs !== undefined) {
    const d = obj(dcs, `${name}.datacenters`);
    out['datacenters'] = Object.fromEntries(Object.keys(d).map((k) => [k, num(d[k])]));
  }
  for (const k of ['hashed', 'ordered']) {
    const v = field(po, k);
    if (v !== undefined) out[k] = placementFields(obj(v, `${name}.${k}`), `${name}.${k}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Mutations

/** A Mutation built from a WireMutation; limits bound the number of ops before building. */
export function mutation(v: unknown, name: string, limits: MutationLimits): Mutation {
  const o = obj(v, name);
  const m = new Mutation(bytes(o, 'row', `${name}.row`));
  const ops = arr(o, 'ops', `${name}.ops`, limits.cellsPerRowMax);
  ops.forEach((op, i) => addOp(m, obj(op, `${name}.ops[${i}]`), `${name}.ops[${i}]`));
  return m;
}

function addOp(m: Mutation, o: Obj, name: string): void {
  const type = field(o, 'type');
  const ts = (required: boolean): number | undefined =>
    required
      ? int(o, 'timestamp', `${name}.timestamp`, 0, timestampMax)
      : optInt(o, 'timestamp', `${name}.timestamp`, 0, timestampMax);
  const fam = (): string => family(o, 'family', `${name}.family`);
  const qual = (): Uint8Array => bytes(o, 'qualifier', `${name}.qualifier`);
  switch (type) {
    case 'put':
      m.put(fam(), qual(), bytes(o, 'value', `${name}.value`), ts(false));
      return;
    case 'deleteVersion':
      m.deleteVersion(fam(), qual(), ts(true)!);
      return;
    case 'deleteColumn':
      m.deleteColumn(fam(), qual(), ts(false));
      return;
    case 'deleteFamily':
      m.deleteFamily(fam(), ts(false));
      return;
    case 'deleteRow':
      m.deleteRow(ts(false));
      return;
    default:
      throw invalidArgument(
        `${name}.type must be one of put, deleteVersion, deleteColumn, deleteFamily, deleteRow`,
        { field: `${name}.type` },
      );
  }
}

export function condition(v: unknown, name: string): WireCondition {
  const o = obj(v, name);
  const fam = family(o, 'family', `${name}.family`);
  const qualifier = bytes(o, 'qualifier', `${name}.qualifier`);
  const absent = optBool(o, 'absent', `${name}.absent`);
  if (absent === true) return { family: fam, qualifier, absent: true };
  if (absent === false) {
    throw invalidArgument(`${name}.absent must be true or absent`, { field: `${name}.absent` });
  }
  return {
    family: fam,
    qualifier,
    op: compareOp(o, 'op', `${name}.op`),
    value: bytes(o, 'value', `${name}.value`),
  };
}

/** An increment delta: a safe-integer number or an int64 bigint. */
export function delta(o: Obj, name: string): bigint | number {
  const v = field(o, 'delta');
  if (typeof v === 'bigint') {
    if (BigInt.asIntN(64, v) !== v) {
      throw invalidArgument(`${name} must fit in an int64`, { field: name });
    }
    return v;
  }
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  throw badField(name, 'an integer (int64 or safe-integer number)', v);
}

// ---------------------------------------------------------------------------------------------
// Reads

function timeRange(v: unknown, name: string): TimeRange {
  const o = obj(v, name);
  const min = optInt(o, 'min', `${name}.min`, 0, timestampMax);
  const max = optInt(o, 'max', `${name}.max`, 0, timestampMax);
  return { ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) };
}

/** Checks a filter tree; `budget.nodes` counts nodes across the whole request. */
function filter(v: unknown, name: string, depth = 1, budget = { nodes: 0 }): Filter {
  if (depth > filterDepthMax) {
    throw invalidArgument(`${name}: filters nest deeper than ${filterDepthMax}`, { field: name });
  }
  if (++budget.nodes > filterNodesMax) {
    throw invalidArgument(`${name}: more than ${filterNodesMax} filters`, { field: name });
  }
  const o = obj(v, name);
  const kind = field(o, 'kind');
  switch (kind) {
    case 'columnPrefix':
    case 'rowPrefix':
      return { kind, prefix: bytes(o, 'prefix', `${name}.prefix`) };
    case 'qualifier': {
      const q = bytes(o, 'qualifier', `${name}.qualifier`);
      const f =
        field(o, 'family') === undefined ? undefined : family(o, 'family', `${name}.family`);
      return f === undefined ? { kind, qualifier: q } : { kind, qualifier: q, family: f };
    }
    case 'valueCompare': {
      const out = {
        kind,
        op: compareOp(o, 'op', `${name}.op`),
        family: family(o, 'family', `${name}.family`),
        qualifier: bytes(o, 'qualifier', `${name}.qualifier`),
        value: bytes(o, 'value', `${name}.value`),
      } as const;
      const fim = optBool(o, 'filterIfMissing', `${name}.filterIfMissing`);
      return fim === undefined ? out : { ...out, filterIfMissing: fim };
    }
    case 'timestampRange':
      return { kind, ...timeRange(o, name) };
    case 'and':
    case 'or': {
      const list = arr(o, 'filters', `${name}.filters`, filterNodesMax);
      return {
        kind,
        filters: list.map((f, i) => filter(f, `${name}.filters[${i}]`, depth + 1, budget)),
      };
    }
    default:
      throw invalidArgument(
        `${name}.kind must be one of columnPrefix, qualifier, valueCompare, rowPrefix, ` +
          `timestampRange, and, or`,
        { field: `${name}.kind` },
      );
  }
}

/** The spec of a get that names none: shared (frozen), as most gets send none. */
const emptyGetSpec: WireGetSpec = Object.freeze({});

export function getSpec(v: unknown, name: string): WireGetSpec {
  if (v === undefined || v === null) return emptyGetSpec;
  const o = obj(v, name);
  const out: {
    families?: string[];
    columns?: ColumnSpec[];
    maxVersions?: number;
    timeRange?: TimeRange;
    filter?: Filter;
  } = {};
  if (field(o, 'families') !== undefined) {
    out.families = arr(o, 'families', `${name}.families`, familiesMax).map((f, i) => {
      if (typeof f !== 'string' || f.length > familyNameBytesMax) {
        throw badField(`${name}.families[${i}]`, 'a family name', f);
      }
      return f;
    });
  }
  if (field(o, 'columns') !== undefined) {
    out.columns = arr(o, 'columns', `${name}.columns`, readColumnsMax).map((c, i) => {
      const co = obj(c, `${name}.columns[${i}]`);
      return {
        family: family(co, 'family', `${name}.columns[${i}].family`),
        qualifier: bytes(co, 'qualifier', `${name}.columns[${i}].qualifier`),
      };
    });
  }
  const maxVersions = optInt(o, 'maxVersions', `${name}.maxVersions`, 1, Number.MAX_SAFE_INTEGER);
  if (maxVersions !== undefined) out.maxVersions = maxVersions;
  const tr = field(o, 'timeRange');
  if (tr !== undefined) out.timeRange = timeRange(tr, `${name}.timeRange`);
  const f = field(o, 'filter');
  if (f !== undefined) out.filter = filter(f, `${name}.filter`);
  return out;
}

export function scanSpec(v: unknown, name: string): WireScanSpec {
  if (v === undefined || v === null) return {};
  const o = obj(v, name);
  const startRow = optBytes(o, 'startRow', `${name}.startRow`);
  const stopRow = optBytes(o, 'stopRow', `${name}.stopRow`);
  const prefix = optBytes(o, 'prefix', `${name}.prefix`);
  const limit = optInt(o, 'limit', `${name}.limit`, 1, Number.MAX_SAFE_INTEGER);
  return {
    ...getSpec(o, name),
    ...(startRow === undefined ? {} : { startRow }),
    ...(stopRow === undefined ? {} : { stopRow }),
    ...(prefix === undefined ? {} : { prefix }),
    ...(limit === undefined ? {} : { limit }),
  };
}
