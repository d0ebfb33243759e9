/**
 * The table operations as plain data: one request and one reply shape per method.
 *
 * These are the bodies of the native protocol's `table.*` methods (docs/formats/table-rpc.md)
 * and, unchanged, what the embedded mode passes in-process, so a remote and an embedded
 * database run the very same validation and code path. Everything here is msgpack-friendly:
 * bytes are Uint8Array, timestamps are safe-integer microseconds, counters are bigint.
 *
 * Requests arrive from untrusted peers: the server validates every field before use and
 * answers a malformed one with INVALID_ARGUMENT naming the field.
 */
import { TesseraError } from '../util/errors.js';
import type { ConsistencyLevel } from './consistency.js';
import type { Filter, CompareOp } from './filters.js';
import type { MutationOp } from './mutation.js';
import type { TableSchema, TableSpec } from './schema.js';
import type { ColumnSpec, TimeRange } from './read-spec.js';

/** Method names, in the order docs/formats/table-rpc.md lists them. */
export const TABLE_METHODS = [
  'table.create',
  'table.describe',
  'table.list',
  'table.drop',
  'table.mutate',
  'table.get',
  'table.scan',
  'table.scanNext',
  'table.scanClose',
  'table.checkAndMutate',
  'table.increment',
  'table.append',
  'table.batch',
] as const;

export type TableMethod = (typeof TABLE_METHODS)[number];

/** A cell as readers see it: the row is implied by the enclosing row. */
export interface WireCell {
  readonly family: string;
  readonly qualifier: Uint8Array;
  readonly timestamp: number;
  readonly value: Uint8Array;
}

/**
 * Cells as they travel: one flat array, four items per cell — family, qualifier, timestamp,
 * value — so a reply carries no map keys per cell (encoding maps was the largest single cost of
 * a node answering YCSB reads). `cellsFromWire` turns it back into WireCell objects.
 */
export type WireCells = readonly (string | number | Uint8Array)[];

export interface WireRow {
  readonly row: Uint8Array;
  readonly cells: WireCells;
}

/** Reads cells in their wire form; PROTOCOL_ERROR when the array is not what it should be. */
export function cellsFromWire(cells: unknown): WireCell[] {
  if (!Array.isArray(cells) || cells.length % 4 !== 0) {
    throw new TesseraError('PROTOCOL_ERROR', 'cells must be an array of 4 items per cell');
  }
  const out: WireCell[] = [];
  for (let i = 0; i < cells.length; i += 4) {
    const [family, qualifier, timestamp, value] = [
      cells[i],
      cells[i + 1],
      cells[i + 2],
      cells[i + 3],
    ];
    if (
      typeof family !== 'string' ||
      !(qualifier instanceof Uint8Array) ||
      typeof timestamp !== 'number' ||
      !(value instanceof Uint8Array)
    ) {
      throw new TesseraError('PROTOCOL_ERROR', `cell ${i / 4} is malformed`);
    }
    out.push({ family, qualifier, timestamp, value });
  }
  return out;
}

/** A read selection as it travels (GetSpec with bytes only). */
export interface WireGetSpec {
  readonly families?: readonly string[];
  readonly columns?: readonly ColumnSpec[];
  readonly maxVersions?: number;
  readonly timeRange?: TimeRange;
  readonly filter?: Filter;
}

export interface WireScanSpec extends WireGetSpec {
  readonly startRow?: Uint8Array;
  readonly stopRow?: Uint8Array;
  readonly prefix?: Uint8Array;
  readonly limit?: number;
}

export type WireCondition =
  | {
      readonly family: string;
      readonly qualifier: Uint8Array;
      readonly op: CompareOp;
      readonly value: Uint8Array;
    }
  | { readonly family: string; readonly qualifier: Uint8Array; readonly absent: true };

export interface WireMutation {
  readonly row: Uint8Array;
  readonly ops: readonly MutationOp[];
}

/** Request and reply of each method. */
export interface TableRequests {
  'table.create': { req: { readonly spec: TableSpec }; reply: { readonly schema: TableSchema } };
  'table.describe': { req: { readonly table: string }; reply: { readonly schema: TableSchema } };
  'table.list': { req: Record<string, never>; reply: { readonly tables: readonly string[] } };
  'table.drop': { req: { readonly table: string }; reply: Record<string, never> };
  /** Puts and deletes of one row, atomically. */
  'table.mutate': {
    req: {
      readonly table: string;
      readonly mutation: WireMutation;
      /**
       * For hashed tables: how many replicas must answer (default QUORUM); ordered tables are
       * linearizable and accept any level.
       */
      readonly consistency?: ConsistencyLevel;
    };
    reply: { readonly timestamp: number };
  };
  'table.get': {
    req: {
      readonly table: string;
      readonly row: Uint8Array;
      readonly spec?: WireGetSpec;
      /**
       * For hashed tables: how many replicas must answer (default QUORUM); ordered tables are
       * linearizable and accept any level.
       */
      readonly consistency?: ConsistencyLevel;
    };
    reply: { readonly cells: WireCells };
  };
  /**
   * Opens a scanner and returns its first batch. `done` means the scan is complete (the
   * scanner is gone); otherwise fetch more with table.scanNext, or release it with
   * table.scanClose. A scanner idle longer than the server's lease (60 s) is dropped and a
   * later scanNext gets NOT_FOUND. The client pulls, so a slow reader holds back the server.
   */
  'table.scan': {
    req: {
      readonly table: string;
      readonly spec?: WireScanSpec;
      /** Rows per reply (default 100, at most 10,000). */
      readonly batchRows?: number;
    };
    reply: { readonly scanner: number; readonly rows: readonly WireRow[]; readonly done: boolean };
  };
  'table.scanNext': {
    req: { readonly scanner: number };
    reply: { readonly rows: readonly WireRow[]; readonly done: boolean };
  };
  'table.scanClose': { req: { readonly scanner: number }; reply: Record<string, never> };
  'table.checkAndMutate': {
    req: {
      readonly table: string;
      readonly condition: WireCondition;
      readonly mutation: WireMutation;
    };
    reply: { readonly applied: boolean };
  };
  'table.increment': {
    req: {
      readonly table: string;
      readonly row: Uint8Array;
      readonly family: string;
      readonly qualifier: Uint8Array;
      readonly delta: bigint | number;
    };
    reply: { readonly value: bigint };
  };
  'table.append': {
    req: {
      readonly table: string;
      readonly row: Uint8Array;
      readonly family: string;
      readonly qualifier: Uint8Array;
      readonly value: Uint8Array;
    };
    reply: { readonly value: Uint8Array };
  };
  /** Each row atomically, the batch as a whole not; results in the mutations' order. */
  'table.batch': {
    req: {
      readonly table: string;
      readonly mutations: readonly WireMutation[];
      /**
       * For hashed tables: how many replicas must answer (default QUORUM); ordered tables are
       * linearizable and accept any level.
       */
      readonly consistency?: ConsistencyLevel;
    };
    reply: {
      readonly results: readonly (
        | { readonly ok: true; readonly timestamp: number }
        | {
            readonly ok: false;
            readonly code: string;
            readonly message: string;
          }
      )[];
    };
  };
}

export type TableRequest<M extends TableMethod> = TableRequests[M]['req'];
export type TableReply<M extends TableMethod> = TableRequests[M]['reply'];

/** Something that answers table requests: the RPC client, or the embedded dispatcher. */
export interface TableCaller {
  call<M extends TableMethod>(
    method: M,
    request: TableRequest<M>,
    options?: { readonly timeoutMs?: number; readonly signal?: AbortSignal },
  ): Promise<TableReply<M>>;
}
