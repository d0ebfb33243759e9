/**
 * A Mutation: the puts and deletes of ONE row, applied atomically as one storage WriteBatch.
 *
 * Every cell the server timestamps gets the mutation's single timestamp, so a row write is
 * atomic and ordered against the row's other writes. A put may carry a client timestamp
 * instead. Deletes are timestamp tombstones (as in HBase): a column-version delete names its
 * exact version; column, family and row deletes remove every version at or before their
 * timestamp, which defaults to the mutation's timestamp (everything written so far).
 */
import { WriteBatch } from '../storage/index.js';
import { utf8 } from '../util/bytes.js';
import { invalidArgument } from '../util/errors.js';
import { toBytes, type Bytes } from './bytes.js';
import { findFamily, type TableSchema } from './schema.js';

export type MutationOp =
  | {
      readonly type: 'put';
      readonly family: string;
      readonly qualifier: Uint8Array;
      readonly value: Uint8Array;
      readonly timestamp?: number;
    }
  | {
      readonly type: 'deleteVersion';
      readonly family: string;
      readonly qualifier: Uint8Array;
      readonly timestamp: number;
    }
  | {
      readonly type: 'deleteColumn';
      readonly family: string;
      readonly qualifier: Uint8Array;
      readonly timestamp?: number;
    }
  | { readonly type: 'deleteFamily'; readonly family: string; readonly timestamp?: number }
  | { readonly type: 'deleteRow'; readonly timestamp?: number };

export class Mutation {
  readonly row: Uint8Array;
  readonly ops: MutationOp[] = [];

  constructor(row: Bytes) {
    this.row = toBytes(row);
  }

  get isEmpty(): boolean {
    return this.ops.length === 0;
  }

  /** Writes a cell; without `timestamp` the server assigns the mutation's timestamp. */
  put(family: string, qualifier: Bytes, value: Bytes, timestamp?: number): this {
    const op: MutationOp = {
      type: 'put',
      family,
      qualifier: toBytes(qualifier),
      value: toBytes(value),
    };
    this.ops.push(timestamp === undefined ? op : { ...op, timestamp });
    return this;
  }

  /** Deletes exactly the version of the column at `timestamp`. */
  deleteVersion(family: string, qualifier: Bytes, timestamp: number): this {
    this.ops.push({ type: 'deleteVersion', family, qualifier: toBytes(qualifier), timestamp });
    return this;
  }

  /** Deletes every version of the column at or before `timestamp` (default: now). */
  deleteColumn(family: string, qualifier: Bytes, timestamp?: number): this {
    const op: MutationOp = { type: 'deleteColumn', family, qualifier: toBytes(qualifier) };
    this.ops.push(timestamp === undefined ? op : { ...op, timestamp });
    return this;
  }

  /** Deletes every cell of the family at or before `timestamp` (default: now). */
  deleteFamily(family: string, timestamp?: number): this {
    this.ops.push(
      timestamp === undefined
        ? { type: 'deleteFamily', family }
        : { type: 'deleteFamily', family, timestamp },
    );
    return this;
  }

  /** Deletes every cell of the row at or before `timestamp` (default: now). */
  deleteRow(timestamp?: number): this {
    this.ops.push(
      timestamp === undefined ? { type: 'deleteRow' } : { type: 'deleteRow', timestamp },
    );
    return this;
  }
}

/** Limits a write must stay within. Errors name the limit that was exceeded. */
export interface MutationLimits {
  /** Bytes of a row key (Bigtable: 4 KiB). */
  readonly rowKeyBytesMax: number;
  /** Bytes of a column qualifier (Bigtable: 16 KiB). */
  readonly qualifierBytesMax: number;
  /** Bytes of one cell value (HBase's default keyvalue max size: 10 MiB). */
  readonly valueBytesMax: number;
  /** Bytes one mutation (one row write) may carry: keys, qualifiers and values. */
  readonly rowBytesMax: number;
  /** Cells (puts and deletes) in one mutation. */
  readonly cellsPerRowMax: number;
  /** Mutations in one batch call. */
  readonly batchMutationsMax: number;
  /** Bytes of all mutations of one batch call. */
  readonly batchBytesMax: number;
}

export const defaultMutationLimits: MutationLimits = Object.freeze({
  rowKeyBytesMax: 4 * 1024,
  qualifierBytesMax: 16 * 1024,
  valueBytesMax: 10 * 1024 * 1024,
  rowBytesMax: 20 * 1024 * 1024,
  cellsPerRowMax: 100_000,
  batchMutationsMax: 10_000,
  batchBytesMax: 64 * 1024 * 1024,
});

function exceeded(what: string, actual: number, limit: keyof MutationLimits, max: number): never {
  throw invalidArgument(`${what} of ${actual} exceeds the limit ${limit} = ${max}`, {
    limit,
    actual,
    max,
  });
}

/** Raises INVALID_ARGUMENT unless the row key is non-empty and within the limit. */
export function checkRowKey(row: Uint8Array, limits: MutationLimits): void {
  if (row.length === 0) throw invalidArgument('row key must not be empty');
  if (row.length > limits.rowKeyBytesMax) {
    exceeded('row key bytes', row.length, 'rowKeyBytesMax', limits.rowKeyBytesMax);
  }
}

/** Approximate bytes the mutation carries (keys, qualifiers, values), as the limits count. */
export function mutationBytes(m: Mutation): number {
  let bytes = m.row.length;
  for (const op of m.ops) {
    bytes += 16;
    if (op.type !== 'deleteRow') bytes += op.family.length;
    if (op.type === 'put' || op.type === 'deleteVersion' || op.type === 'deleteColumn') {
      bytes += op.qualifier.length;
    }
    if (op.type === 'put') bytes += op.value.length;
  }
  return bytes;
}

/** Raises INVALID_ARGUMENT when the mutation breaks a limit or names an undeclared family. */
export function checkMutation(m: Mutation, schema: TableSchema, limits: MutationLimits): void {
  checkRowKey(m.row, limits);
  if (m.ops.length === 0) throw invalidArgument('mutation has no puts or deletes');
  if (m.ops.length > limits.cellsPerRowMax) {
    exceeded('cells in one mutation', m.ops.length, 'cellsPerRowMax', limits.cellsPerRowMax);
  }
  for (const op of m.ops) {
    if (op.type !== 'deleteRow' && findFamily(schema, op.family) === undefined) {
      throw invalidArgument(`table '${schema.name}' has no column family '${op.family}'`, {
        family: op.family,
      });
    }
    if (op.type !== 'deleteRow' && op.type !== 'deleteFamily') {
      if (op.qualifier.length > limits.qualifierBytesMax) {
        exceeded(
          'qualifier bytes',
          op.qualifier.length,
          'qualifierBytesMax',
          limits.qualifierBytesMax,
        );
      }
    }
    if (op.type === 'put' && op.value.length > limits.valueBytesMax) {
      exceeded('value bytes', op.value.length, 'valueBytesMax', limits.valueBytesMax);
    }
  }
  const bytes = mutationBytes(m);
  if (bytes > limits.rowBytesMax) {
    exceeded('bytes in one row mutation', bytes, 'rowBytesMax', limits.rowBytesMax);
  }
}

/**
 * Each schema's family names as UTF-8, encoded once: a schema never changes (an altered table
 * gets a new schema object), and encoding the family of every cell cost ~1.5% of a loaded
 * node's time. The batch copies the bytes, so sharing them is safe.
 */
const familyBytesOf = new WeakMap<TableSchema, ReadonlyMap<string, Uint8Array>>();

/**
 * The storage batch for `m`: cells without a timestamp get `timestamp` (the server's, one per
 * mutation). Validates first (checkMutation); timestamps must be integers in [0, 2^53).
 */
export function toWriteBatch(
  m: Mutation,
  schema: TableSchema,
  timestamp: number,
  limits: MutationLimits = defaultMutationLimits,
): WriteBatch {
  checkMutation(m, schema, limits);
  const batch = new WriteBatch();
  let families = familyBytesOf.get(schema);
  if (families === undefined) {
    families = new Map(schema.families.map((f) => [f.name, utf8(f.name)]));
    familyBytesOf.set(schema, families);
  }
  const known = families;
  // checkMutation let through declared families only, so every name is in the map.
  const fam = (name: string): Uint8Array => known.get(name)!;
  for (const op of m.ops) {
    switch (op.type) {
      case 'put':
        batch.put(m.row, fam(op.family), op.qualifier, op.timestamp ?? timestamp, op.value);
        break;
      case 'deleteVersion':
        batch.deleteVersion(m.row, fam(op.family), op.qualifier, op.timestamp);
        break;
      case 'deleteColumn':
        batch.deleteColumn(m.row, fam(op.family), op.qualifier, op.timestamp ?? timestamp);
        break;
      case 'deleteFamily':
        batch.deleteFamily(m.row, fam(op.family), op.timestamp ?? timestamp);
        break;
      case 'deleteRow':
        batch.deleteRow(m.row, op.timestamp ?? timestamp);
        break;
    }
  }
  return batch;
}
