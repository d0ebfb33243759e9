/**
 * The public table API: what `connect(addresses)` (a remote node) and `open(dir)` (embedded,
 * in-process) both return. Applications, the shell and the YCSB benchmark program against
 * these interfaces only, so one code path serves all of them.
 *
 * Columns are named HBase-style as `'family:qualifier'` strings (the qualifier is the UTF-8 of
 * everything after the first colon; pass a ColumnRef for binary qualifiers). Row keys and
 * values accept strings (UTF-8) or bytes.
 */
import type {
  Bytes,
  CompareOp,
  ConsistencyLevel,
  Filter,
  Mutation,
  TableSchema,
  TableSpec,
} from '../model/index.js';

export interface ColumnRef {
  readonly family: string;
  readonly qualifier: Bytes;
}

/** `'family:qualifier'`, `'family'` (where a whole family is meant) or a ColumnRef. */
export type ColumnName = string | ColumnRef;

export interface ResultCell {
  readonly family: string;
  readonly qualifier: Uint8Array;
  /** Microseconds since the epoch. */
  readonly timestamp: number;
  readonly value: Uint8Array;
}

/** One row of a get or scan: its cells in data-model order (family, qualifier, newest first). */
export interface Row {
  readonly key: Uint8Array;
  readonly cells: readonly ResultCell[];
  /** The newest value of the column, or undefined. */
  value(column: ColumnName): Uint8Array | undefined;
  /** The newest value of the column decoded as UTF-8, or undefined. */
  text(column: ColumnName): string | undefined;
}

export interface CallOptions {
  /** Relative timeout in milliseconds (default: the database's, 30 s). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /**
   * For hashed tables: how many replicas must answer (default: the database's, else the
   * server's QUORUM); ordered tables are linearizable and accept any level. Sent by put,
   * mutate, delete, get and batch; the other calls take no level and ignore it. Checked before
   * sending (INVALID_ARGUMENT), case-insensitively: `'quorum'` is QUORUM.
   */
  readonly consistency?: ConsistencyLevel;
}

export interface GetOptions extends CallOptions {
  /** Columns or whole families to read (default: every family). */
  readonly columns?: readonly ColumnName[];
  /** Versions per column, newest first (default 1). */
  readonly maxVersions?: number;
  /** [min, max) in microseconds. */
  readonly timeRange?: { readonly min?: number; readonly max?: number };
  readonly filter?: Filter;
}

export interface ScanOptions extends GetOptions {
  readonly startRow?: Bytes;
  /** Exclusive. */
  readonly stopRow?: Bytes;
  readonly prefix?: Bytes;
  /** Most rows returned. */
  readonly limit?: number;
  /** Rows fetched per round trip (default 100). */
  readonly batchRows?: number;
}

export interface PutOptions extends CallOptions {
  /** Client timestamp for every cell (default: the server assigns one). */
  readonly timestamp?: number;
}

export interface DeleteOptions extends CallOptions {
  /** Columns (`'f:q'`) or families (`'f'`) to delete; default the whole row. */
  readonly columns?: readonly ColumnName[];
  /** Delete versions at or before this timestamp (default: all written so far). */
  readonly timestamp?: number;
}

/** The column a checkAndMutate compares, and how. */
export type CheckCondition =
  | { readonly column: ColumnName; readonly op: CompareOp; readonly value: Bytes }
  | { readonly column: ColumnName; readonly absent: true };

export type BatchOutcome =
  | { readonly ok: true; readonly timestamp: number }
  | { readonly ok: false; readonly code: string; readonly message: string };

export interface Table {
  readonly name: string;
  /** Writes the cells of one row atomically: `{ 'info:name': 'Ada', 'info:born': '1815' }`. */
  put(
    row: Bytes,
    values: Readonly<Record<string, Bytes>>,
    options?: PutOptions,
  ): Promise<{ timestamp: number }>;
  /** Applies one row's puts and deletes atomically. */
  mutate(mutation: Mutation, options?: CallOptions): Promise<{ timestamp: number }>;
  delete(row: Bytes, options?: DeleteOptions): Promise<{ timestamp: number }>;
  /** The row, or undefined when the selection holds no cell. */
  get(row: Bytes, options?: GetOptions): Promise<Row | undefined>;
  /** Rows in key order, fetched batchRows at a time as the caller iterates. */
  scan(options?: ScanOptions): AsyncIterable<Row>;
  /** Applies `mutation` (for `row`) when the condition holds; resolves to whether it did. */
  checkAndMutate(
    row: Bytes,
    condition: CheckCondition,
    mutation: Mutation,
    options?: CallOptions,
  ): Promise<boolean>;
  /** Adds `delta` (default 1) to an int64 counter cell; resolves to the new value. */
  increment(
    row: Bytes,
    column: ColumnName,
    delta?: bigint | number,
    options?: CallOptions,
  ): Promise<bigint>;
  /** Appends to a cell's value; resolves to the new value. */
  append(row: Bytes, column: ColumnName, value: Bytes, options?: CallOptions): Promise<Uint8Array>;
  /** Each mutation's row atomically, the batch not; outcomes in order. */
  batch(mutations: readonly Mutation[], options?: CallOptions): Promise<BatchOutcome[]>;
}

export interface Database {
  createTable(spec: TableSpec, options?: CallOptions): Promise<TableSchema>;
  describeTable(name: string, options?: CallOptions): Promise<TableSchema>;
  listTables(options?: CallOptions): Promise<string[]>;
  dropTable(name: string, options?: CallOptions): Promise<void>;
  /** A handle on a table; no round trip until it is used. */
  table(name: string): Table;
  /** Closes connections (remote) or the stores (embedded). */
  close(): Promise<void>;
}
