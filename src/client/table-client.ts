/**
 * TableDatabase: the public Database/Table API (table-api.ts) over any TableCaller — the RPC
 * caller (rpc-caller.ts, for `connect`) or the in-process dispatcher (embedded.ts, for `open`).
 *
 * This module only translates: friendly arguments (column names, strings, Mutation objects)
 * into the wire requests of model/table-protocol.ts, and replies into Row objects. Validation
 * of everything the server could judge is left to the server, so a remote and an embedded
 * database reject the same inputs with the same errors. What is checked here is what the wire
 * cannot express: a column name's shape, and a checkAndMutate whose mutation is for another row.
 * A consistency level is checked here too, so that a typo fails before anything is sent rather
 * than be ignored by a server that predates the field.
 *
 * Scans are pulled: `table.scan` opens a server-side scanner with the first batch, each
 * further batch is fetched by `table.scanNext` only when the consumer has used up the last
 * one, and a consumer that stops early (break, return, throw) releases the scanner with
 * `table.scanClose`.
 */
import {
  cellsFromWire,
  parseConsistency,
  toBytes,
  type Bytes,
  type ColumnSpec,
  type ConsistencyLevel,
  type Mutation,
  type MutationOp,
  type TableSchema,
  type TableSpec,
} from '../model/index.js';
import type {
  TableCaller,
  TableMethod,
  TableReply,
  TableRequest,
  WireCells,
  WireCondition,
  WireGetSpec,
  WireMutation,
  WireRow,
  WireScanSpec,
} from '../model/table-protocol.js';
import { equalBytes, fromUtf8, toHex, utf8 } from '../util/bytes.js';
import { invalidArgument, TesseraError } from '../util/errors.js';
import type {
  BatchOutcome,
  CallOptions,
  CheckCondition,
  ColumnName,
  Database,
  DeleteOptions,
  GetOptions,
  PutOptions,
  ResultCell,
  Row,
  ScanOptions,
  Table,
} from './table-api.js';

/** Per-call timeout when neither the call nor the database names one. */
export const TABLE_CALL_TIMEOUT_MS_DEFAULT = 30_000;

export interface TableDatabaseOptions {
  /** Default relative timeout of every call. Default TABLE_CALL_TIMEOUT_MS_DEFAULT. */
  readonly timeoutMs?: number;
  /**
   * Default consistency level of the calls that send one (put, mutate, delete, get, batch) when
   * the call names none. Default: none, so requests carry no level and the server applies its
   * own (QUORUM).
   */
  readonly consistency?: ConsistencyLevel;
  /** Releases what the caller holds (connections, stores); run once by close(). */
  readonly onClose?: () => Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Columns

/** A parsed column name: a family, and a qualifier unless the whole family is meant. */
export interface ParsedColumn {
  readonly family: string;
  readonly qualifier: Uint8Array | undefined;
}

/**
 * `'f:q'` → family f, qualifier UTF-8(q) (everything after the first colon, so `'f:'` is the
 * empty qualifier); `'f'` → the whole family f; a ColumnRef is taken as it is.
 */
export function parseColumn(name: ColumnName): ParsedColumn {
  if (typeof name !== 'string') {
    if (typeof name !== 'object' || name === null || typeof name.family !== 'string') {
      throw invalidArgument(`a column is 'family:qualifier' or { family, qualifier }`);
    }
    return { family: name.family, qualifier: toBytes(name.qualifier) };
  }
  const colon = name.indexOf(':');
  const family = colon < 0 ? name : name.slice(0, colon);
  if (family === '') {
    throw invalidArgument(`column '${name}' has an empty family name`, { column: name });
  }
  return { family, qualifier: colon < 0 ? undefined : utf8(name.slice(colon + 1)) };
}

/** Like parseColumn, but a qualifier is required (a cell, not a family, is meant). */
export function parseCell(name: ColumnName): { family: string; qualifier: Uint8Array } {
  const c = parseColumn(name);
  if (c.qualifier === undefined) {
    throw invalidArgument(
      `column '${String(name)}' names a whole family here; write 'family:qualifier'`,
      { column: String(name) },
    );
  }
  return { family: c.family, qualifier: c.qualifier };
}

// ---------------------------------------------------------------------------------------------
// Rows

class ResultRow implements Row {
  constructor(
    readonly key: Uint8Array,
    readonly cells: readonly ResultCell[],
  ) {}

  value(column: ColumnName): Uint8Array | undefined {
    const { family, qualifier } = parseCell(column);
    // Cells are in data-model order, newest version first: the first match is the newest.
    for (const c of this.cells) {
      if (c.family === family && equalBytes(c.qualifier, qualifier)) return c.value;
    }
    return undefined;
  }

  text(column: ColumnName): string | undefined {
    const v = this.value(column);
    return v === undefined ? undefined : fromUtf8(v);
  }

  toString(): string {
    return `Row(${toHex(this.key)}, ${this.cells.length} cells)`;
  }
}

function toRow(key: Uint8Array, cells: WireCells): Row {
  return new ResultRow(key, cellsFromWire(cells));
}

// ---------------------------------------------------------------------------------------------
// Requests

/** The object without its undefined fields (msgpack would send them as nil). */
function defined<T extends object>(o: T): T {
  // for-in, not Object.entries: this runs for every call, and entries allocates an array per
  // field (5% of a YCSB client's CPU).
  const out: Record<string, unknown> = {};
  for (const k in o) {
    const v = (o as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = v;
  }
  return out as T;
}

function getSpec(options: GetOptions): WireGetSpec | undefined {
  if (
    options.columns === undefined &&
    options.maxVersions === undefined &&
    options.timeRange === undefined &&
    options.filter === undefined
  ) {
    return undefined;
  }
  const families: string[] = [];
  const columns: ColumnSpec[] = [];
  for (const name of options.columns ?? []) {
    const c = parseColumn(name);
    if (c.qualifier === undefined) families.push(c.family);
    else columns.push({ family: c.family, qualifier: c.qualifier });
  }
  const spec: WireGetSpec = defined({
    families: families.length > 0 ? families : undefined,
    columns: columns.length > 0 ? columns : undefined,
    maxVersions: options.maxVersions,
    timeRange: options.timeRange === undefined ? undefined : defined({ ...options.timeRange }),
    filter: options.filter,
  });
  return Object.keys(spec).length === 0 ? undefined : spec;
}

function scanSpec(options: ScanOptions): WireScanSpec | undefined {
  const bytes = (b: Bytes | undefined) => (b === undefined ? undefined : toBytes(b));
  const spec: WireScanSpec = defined({
    ...getSpec(options),
    startRow: bytes(options.startRow),
    stopRow: bytes(options.stopRow),
    prefix: bytes(options.prefix),
    limit: options.limit,
  });
  return Object.keys(spec).length === 0 ? undefined : spec;
}

function wireMutation(m: Mutation): WireMutation {
  if (typeof m !== 'object' || m === null || !(m.row instanceof Uint8Array)) {
    throw invalidArgument('a mutation is a Mutation (new Mutation(row).put(...))');
  }
  return { row: m.row, ops: m.ops };
}

function wireCondition(condition: CheckCondition): WireCondition {
  const { family, qualifier } = parseCell(condition.column);
  if ('absent' in condition) {
    if (condition.absent !== true) throw invalidArgument('condition.absent must be true');
    return { family, qualifier, absent: true };
  }
  return { family, qualifier, op: condition.op, value: toBytes(condition.value) };
}

function deleteOps(options: DeleteOptions): MutationOp[] {
  const ts = options.timestamp === undefined ? {} : { timestamp: options.timestamp };
  const columns = options.columns ?? [];
  if (columns.length === 0) return [{ type: 'deleteRow', ...ts }];
  return columns.map((name): MutationOp => {
    const c = parseColumn(name);
    return c.qualifier === undefined
      ? { type: 'deleteFamily', family: c.family, ...ts }
      : { type: 'deleteColumn', family: c.family, qualifier: c.qualifier, ...ts };
  });
}

function putOps(values: Readonly<Record<string, Bytes>>, timestamp?: number): MutationOp[] {
  if (typeof values !== 'object' || values === null) {
    throw invalidArgument(`put takes an object of 'family:qualifier' → value`);
  }
  return Object.entries(values).map(([name, value]): MutationOp => {
    const { family, qualifier } = parseCell(name);
    const op = { type: 'put', family, qualifier, value: toBytes(value) } as const;
    return timestamp === undefined ? op : { ...op, timestamp };
  });
}

// ---------------------------------------------------------------------------------------------
// Database and Table

export class TableDatabase implements Database {
  private readonly timeoutMs: number;
  private readonly consistency: ConsistencyLevel | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly caller: TableCaller,
    private readonly options: TableDatabaseOptions = {},
  ) {
    const t = options.timeoutMs ?? TABLE_CALL_TIMEOUT_MS_DEFAULT;
    if (!(t > 0)) throw invalidArgument(`timeoutMs must be positive, got ${t}`);
    this.timeoutMs = t;
    this.consistency =
      options.consistency === undefined
        ? undefined
        : parseConsistency(options.consistency, 'consistency');
  }

  /**
   * The level a call sends: its own, else the database's default, else none. INVALID_ARGUMENT
   * for a level that is not one, before anything is sent.
   */
  consistencyFor(options: CallOptions | undefined): ConsistencyLevel | undefined {
    const c = options?.consistency;
    return c === undefined ? this.consistency : parseConsistency(c, 'consistency');
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Sends one request with the call's (or the database's) timeout. */
  call<M extends TableMethod>(
    method: M,
    request: TableRequest<M>,
    options: CallOptions = {},
  ): Promise<TableReply<M>> {
    if (this.closing !== undefined) {
      return Promise.reject(
        new TesseraError('CONNECTION_CLOSED', `'${method}' after the database was closed`, {
          method,
        }),
      );
    }
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const signal = options.signal;
    return this.caller.call(
      method,
      request,
      signal === undefined ? { timeoutMs } : { timeoutMs, signal },
    );
  }

  async createTable(spec: TableSpec, options?: CallOptions): Promise<TableSchema> {
    return (await this.call('table.create', { spec }, options)).schema;
  }

  async describeTable(name: string, options?: CallOptions): Promise<TableSchema> {
    return (await this.call('table.describe', { table: name }, options)).schema;
  }

  async listTables(options?: CallOptions): Promise<string[]> {
    return [...(await this.call('table.list', {}, options)).tables];
  }

  async dropTable(name: string, options?: CallOptions): Promise<void> {
    await this.call('table.drop', { table: name }, options);
  }

  table(name: string): Table {
    if (typeof name !== 'string' || name === '') {
      throw invalidArgument('a table name is a non-empty string');
    }
    return new RemoteTable(this, name);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.options.onClose?.();
    })();
    return this.closing;
  }
}

class RemoteTable implements Table {
  constructor(
    private readonly db: TableDatabase,
    readonly name: string,
  ) {}

  async put(
    row: Bytes,
    values: Readonly<Record<string, Bytes>>,
    options: PutOptions = {},
  ): Promise<{ timestamp: number }> {
    const mutation = { row: toBytes(row), ops: putOps(values, options.timestamp) };
    return this.mutateWire(mutation, options);
  }

  mutate(mutation: Mutation, options?: CallOptions): Promise<{ timestamp: number }> {
    return this.mutateWire(wireMutation(mutation), options);
  }

  delete(row: Bytes, options: DeleteOptions = {}): Promise<{ timestamp: number }> {
    return this.mutateWire({ row: toBytes(row), ops: deleteOps(options) }, options);
  }

  async get(row: Bytes, options: GetOptions = {}): Promise<Row | undefined> {
    const key = toBytes(row);
    const spec = getSpec(options);
    const consistency = this.db.consistencyFor(options);
    // Literal shapes, not spreads: most gets carry neither a spec nor a level, and their body
    // stays the two-key map the wire's fast paths take.
    let request: TableRequest<'table.get'>;
    if (consistency === undefined) {
      request =
        spec === undefined ? { table: this.name, row: key } : { table: this.name, row: key, spec };
    } else {
      request =
        spec === undefined
          ? { table: this.name, row: key, consistency }
          : { table: this.name, row: key, spec, consistency };
    }
    const reply = await this.db.call('table.get', request, options);
    return reply.cells.length === 0 ? undefined : toRow(key, reply.cells);
  }

  scan(options: ScanOptions = {}): AsyncIterable<Row> {
    return this.scanRows(options);
  }

  async checkAndMutate(
    row: Bytes,
    condition: CheckCondition,
    mutation: Mutation,
    options?: CallOptions,
  ): Promise<boolean> {
    const key = toBytes(row);
    const m = wireMutation(mutation);
    if (!equalBytes(key, m.row)) {
      throw invalidArgument(
        `checkAndMutate: the mutation is for row ${toHex(m.row)}, the condition for row ${toHex(key)}`,
      );
    }
    const request = { table: this.name, condition: wireCondition(condition), mutation: m };
    return (await this.db.call('table.checkAndMutate', request, options)).applied;
  }

  async increment(
    row: Bytes,
    column: ColumnName,
    delta: bigint | number = 1,
    options?: CallOptions,
  ): Promise<bigint> {
    const { family, qualifier } = parseCell(column);
    const request = { table: this.name, row: toBytes(row), family, qualifier, delta };
    const reply = await this.db.call('table.increment', request, options);
    // msgpack brings int64 back as bigint; an in-process or foreign server may send a number.
    return BigInt(reply.value);
  }

  async append(
    row: Bytes,
    column: ColumnName,
    value: Bytes,
    options?: CallOptions,
  ): Promise<Uint8Array> {
    const { family, qualifier } = parseCell(column);
    const request = { table: this.name, row: toBytes(row), family, qualifier };
    const reply = await this.db.call(
      'table.append',
      { ...request, value: toBytes(value) },
      options,
    );
    return reply.value;
  }

  async batch(mutations: readonly Mutation[], options?: CallOptions): Promise<BatchOutcome[]> {
    const wire = mutations.map(wireMutation);
    const consistency = this.db.consistencyFor(options);
    const request: TableRequest<'table.batch'> =
      consistency === undefined
        ? { table: this.name, mutations: wire }
        : { table: this.name, mutations: wire, consistency };
    const reply = await this.db.call('table.batch', request, options);
    return reply.results.map((r): BatchOutcome =>
      r.ok ? { ok: true, timestamp: r.timestamp } : { ok: false, code: r.code, message: r.message },
    );
  }

  private async mutateWire(
    mutation: WireMutation,
    options?: CallOptions,
  ): Promise<{ timestamp: number }> {
    const consistency = this.db.consistencyFor(options);
    const request: TableRequest<'table.mutate'> =
      consistency === undefined
        ? { table: this.name, mutation }
        : { table: this.name, mutation, consistency };
    const reply = await this.db.call('table.mutate', request, options);
    return { timestamp: reply.timestamp };
  }

  /**
   * The scan as an async generator: the generator's `finally` runs when the consumer stops
   * early too (for-await calls return()), which is where an unfinished scanner is released.
   */
  private async *scanRows(options: ScanOptions): AsyncGenerator<Row, void, undefined> {
    const limit = options.limit;
    if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 1)) {
      throw invalidArgument(`limit must be an integer >= 1, got ${limit}`);
    }
    const open = await this.db.call(
      'table.scan',
      defined({ table: this.name, spec: scanSpec(options), batchRows: options.batchRows }),
      options,
    );
    const scanner = open.scanner;
    let done = open.done;
    let rows: readonly WireRow[] = open.rows;
    let returned = 0;
    try {
      for (;;) {
        for (const r of rows) {
          // The server applies the limit too; counting here keeps the promise regardless.
          if (limit !== undefined && returned >= limit) return;
          returned++;
          yield toRow(r.row, r.cells);
        }
        if (done || (limit !== undefined && returned >= limit)) return;
        const next = await this.db.call('table.scanNext', { scanner }, options);
        rows = next.rows;
        done = next.done;
      }
    } finally {
      if (!done && !this.db.closed) {
        // Best effort: a scanner not released here expires with the server's lease.
        await this.db.call('table.scanClose', { scanner }, { timeoutMs: options.timeoutMs }).then(
          () => undefined,
          () => undefined,
        );
      }
    }
  }
}
