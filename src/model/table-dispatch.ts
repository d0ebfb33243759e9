/**
 * The table dispatcher: answers table requests (table-protocol.ts) against a Database, for the
 * native protocol's `table.*` handlers and, unchanged, for the embedded mode.
 *
 * Requests are untrusted: the first half of this file checks every field's type and range,
 * with INVALID_ARGUMENT naming the field (`mutation.ops[2].qualifier`). What it accepts is
 * well-typed; the values are then checked against the schema and limits by the tablet.
 * Optional fields may be absent or nil (msgpack encodes `undefined` as nil). Integers may
 * arrive as a number or, from other msgpack encoders, as an int64 bigint within safe range.
 *
 * Scanners: table.scan opens one and returns its first batch; the client pulls the rest with
 * table.scanNext. One row is read ahead so `done` is exact. A scanner idle for
 * scannerLeaseMs is dropped (its read unpins its files), and at most scannersMax are open.
 */
import type { Env, Timer } from '../env/index.js';
import type { Cell, RowResult } from '../storage/index.js';
import { fromUtf8 } from '../util/bytes.js';
import { TesseraError, invalidArgument, toTesseraError } from '../util/errors.js';
import type { Database } from './database.js';
import type { CompareOp, Filter } from './filters.js';
import { Mutation, type MutationLimits } from './mutation.js';
import type { ColumnSpec, TimeRange } from './read-spec.js';
import { familiesMax, familyNameBytesMax, tableNameBytesMax, type TableSpec } from './schema.js';
import type {
  TableCaller,
  TableMethod,
  TableReply,
  TableRequest,
  WireCondition,
  WireGetSpec,
  WireRow,
  WireScanSpec,
} from './table-protocol.js';

/** Nesting of and/or filters a request may use. */
export const filterDepthMax = 16;
/** Filters (every node of the tree) in one request. */
export const filterNodesMax = 1_000;
/** Single columns one read may select. */
export const readColumnsMax = 10_000;

type Obj = Readonly<Record<string, unknown>>;

const compareOps: readonly CompareOp[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'];

function typeName(v: unknown): string {
  if (v === null) return 'nil';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function badField(field: string, want: string, got: unknown): TesseraError {
  return invalidArgument(`${field} must be ${want}, got ${typeName(got)}`, { field });
}

/** The field's value, with nil meaning absent. */
function field(o: Obj, key: string): unknown {
  const v = o[key];
  return v === null ? undefined : v;
}

function obj(v: unknown, name: string): Obj {
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

function bytes(o: Obj, key: string, name: string): Uint8Array {
  const v = field(o, key);
  if (!(v instanceof Uint8Array)) throw badField(name, 'bytes', v);
  // msgpack hands out Node Buffers, whose slice() is a view rather than a copy; a plain
  // Uint8Array over the same memory keeps code written for Uint8Array from writing into it.
  return Object.getPrototypeOf(v) === Uint8Array.prototype
    ? v
    : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function optBytes(o: Obj, key: string, name: string): Uint8Array | undefined {
  return field(o, key) === undefined ? undefined : bytes(o, key, name);
}

function int(o: Obj, key: string, name: string, min: number, max: number): number {
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

function optInt(o: Obj, key: string, name: string, min: number, max: number): number | undefined {
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

function tableName(o: Obj, name = 'table'): string {
  return str(o, 'table', name, tableNameBytesMax);
}

function family(o: Obj, key: string, name: string): string {
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
function tableSpec(v: unknown, name: string): TableSpec {
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
    const po = obj(p, `${name}.placement`);
    const rf = field(po, 'replicationFactor');
    spec['placement'] = {
      kind: field(po, 'kind'),
      ...(rf === undefined ? {} : { replicationFactor: typeof rf === 'bigint' ? Number(rf) : rf }),
    };
  }
  return spec as unknown as TableSpec;
}

// ---------------------------------------------------------------------------------------------
// Mutations

/** A Mutation built from a WireMutation; limits bound the number of ops before building. */
function mutation(v: unknown, name: string, limits: MutationLimits): Mutation {
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

function condition(v: unknown, name: string): WireCondition {
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
function delta(o: Obj, name: string): bigint | number {
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

function getSpec(v: unknown, name: string): WireGetSpec {
  if (v === undefined || v === null) return {};
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

function scanSpec(v: unknown, name: string): WireScanSpec {
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

// ---------------------------------------------------------------------------------------------
// The dispatcher

/** Rows per scan reply when the request names none. */
export const scanBatchRowsDefault = 100;
export const scanBatchRowsMax = 10_000;
/** A batch stops growing once its rows carry this many bytes (at least one row is sent). */
export const scanBatchBytesMax = 4 * 1024 * 1024;
/** A scanner nobody pulled from for this long is dropped. */
export const scannerLeaseMs = 60_000;
/** Open scanners on one dispatcher; more are OVERLOADED. */
export const scannersMax = 10_000;

interface Scanner {
  readonly id: number;
  readonly table: string;
  readonly rows: AsyncGenerator<RowResult>;
  readonly batchRows: number;
  /** A row read ahead to learn whether the scan is done. */
  head: RowResult | undefined;
  lease: Timer | undefined;
  busy: boolean;
}

type Handlers = { readonly [M in TableMethod]: (req: unknown) => Promise<TableReply<M>> };

function wireCells(cells: readonly Cell[]): (string | number | Uint8Array)[] {
  const out = new Array<string | number | Uint8Array>(cells.length * 4);
  let i = 0;
  for (const c of cells) {
    out[i++] = fromUtf8(c.family);
    out[i++] = c.qualifier;
    out[i++] = c.timestamp;
    out[i++] = c.value;
  }
  return out;
}

function rowBytes(r: RowResult): number {
  let n = r.row.length;
  for (const c of r.cells) n += c.family.length + c.qualifier.length + c.value.length + 8;
  return n;
}

/**
 * Answers table requests (table-protocol.ts) against a Database: the native protocol's
 * `table.*` handlers call it, and the embedded mode calls it directly, so both run the same
 * validation. Every request is checked in full before anything runs.
 */
export class TableDispatcher implements TableCaller {
  private readonly scanners = new Map<number, Scanner>();
  private nextScanner = 1;
  private closed = false;
  private readonly handlers: Handlers;

  constructor(
    readonly env: Env,
    readonly database: Database,
  ) {
    this.handlers = {
      'table.create': (r) => this.create(r),
      'table.describe': (r) => this.describe(r),
      'table.list': (r) => this.list(r),
      'table.drop': (r) => this.drop(r),
      'table.mutate': (r) => this.mutate(r),
      'table.get': (r) => this.get(r),
      'table.scan': (r) => this.scan(r),
      'table.scanNext': (r) => this.scanNext(r),
      'table.scanClose': (r) => this.scanClose(r),
      'table.checkAndMutate': (r) => this.checkAndMutate(r),
      'table.increment': (r) => this.increment(r),
      'table.append': (r) => this.append(r),
      'table.batch': (r) => this.batch(r),
    };
  }

  /** Open scanners (for tests and stats). */
  get openScanners(): number {
    return this.scanners.size;
  }

  async call<M extends TableMethod>(
    method: M,
    request: TableRequest<M>,
    options?: { readonly timeoutMs?: number; readonly signal?: AbortSignal },
  ): Promise<TableReply<M>> {
    if (options?.signal?.aborted === true) {
      throw new TesseraError('CANCELLED', `${String(method)} was cancelled`);
    }
    if (this.closed) throw new TesseraError('SHUTTING_DOWN', 'the table service is closed');
    if (
      typeof method !== 'string' ||
      !Object.prototype.hasOwnProperty.call(this.handlers, method)
    ) {
      throw invalidArgument(`unknown table method '${String(method).slice(0, 64)}'`, {
        method: String(method).slice(0, 64),
      });
    }
    try {
      return (await this.handlers[method](request as unknown)) as TableReply<M>;
    } catch (err) {
      throw toTesseraError(err);
    }
  }

  // --- Schema --------------------------------------------------------------------------------

  private async create(req: unknown): Promise<TableReply<'table.create'>> {
    const spec = tableSpec(obj(req, 'request').spec, 'spec');
    return { schema: await this.database.createTable(spec) };
  }

  private describe(req: unknown): Promise<TableReply<'table.describe'>> {
    const table = tableName(obj(req, 'request'));
    return Promise.resolve({ schema: this.database.describeTable(table) });
  }

  private list(req: unknown): Promise<TableReply<'table.list'>> {
    if (req !== undefined && req !== null) obj(req, 'request');
    return Promise.resolve({ tables: this.database.listTables() });
  }

  private async drop(req: unknown): Promise<TableReply<'table.drop'>> {
    const table = tableName(obj(req, 'request'));
    this.database.describeTable(table); // NOT_FOUND before touching its scanners
    for (const s of [...this.scanners.values()]) if (s.table === table) this.release(s);
    await this.database.dropTable(table);
    return {};
  }

  // --- Writes --------------------------------------------------------------------------------

  private async mutate(req: unknown): Promise<TableReply<'table.mutate'>> {
    const o = obj(req, 'request');
    const tablet = this.database.tablet(tableName(o));
    const m = mutation(o.mutation, 'mutation', tablet.limits);
    return { timestamp: (await tablet.mutate(m)).timestamp };
  }

  private async checkAndMutate(req: unknown): Promise<TableReply<'table.checkAndMutate'>> {
    const o = obj(req, 'request');
    const tablet = this.database.tablet(tableName(o));
    const cond = condition(o.condition, 'condition');
    const m = mutation(o.mutation, 'mutation', tablet.limits);
    return { applied: await tablet.checkAndMutate(m.row, cond, m) };
  }

  private async increment(req: unknown): Promise<TableReply<'table.increment'>> {
    const o = obj(req, 'request');
    const tablet = this.database.tablet(tableName(o));
    const row = bytes(o, 'row', 'row');
    const fam = family(o, 'family', 'family');
    const q = bytes(o, 'qualifier', 'qualifier');
    const d = delta(o, 'delta');
    return { value: await tablet.increment(row, fam, q, d) };
  }

  private async append(req: unknown): Promise<TableReply<'table.append'>> {
    const o = obj(req, 'request');
    const tablet = this.database.tablet(tableName(o));
    const row = bytes(o, 'row', 'row');
    const fam = family(o, 'family', 'family');
    const q = bytes(o, 'qualifier', 'qualifier');
    const value = bytes(o, 'value', 'value');
    return { value: await tablet.append(row, fam, q, value) };
  }

  private async batch(req: unknown): Promise<TableReply<'table.batch'>> {
    const o = obj(req, 'request');
    const tablet = this.database.tablet(tableName(o));
    const list = o.mutations;
    if (!Array.isArray(list)) throw badField('mutations', 'an array', list);
    if (list.length > tablet.limits.batchMutationsMax) {
      throw invalidArgument(
        `mutations has ${list.length} elements; the limit batchMutationsMax is ` +
          `${tablet.limits.batchMutationsMax}`,
        { field: 'mutations', limit: 'batchMutationsMax' },
      );
    }
    const ms = list.map((m, i) => mutation(m, `mutations[${i}]`, tablet.limits));
    const results = await tablet.batch(ms);
    return {
      results: results.map((r) =>
        r.ok
          ? { ok: true as const, timestamp: r.timestamp }
          : { ok: false as const, code: r.error.code, message: r.error.message },
      ),
    };
  }

  // --- Reads ---------------------------------------------------------------------------------

  private async get(req: unknown): Promise<TableReply<'table.get'>> {
    const o = obj(req, 'request');
    const tablet = this.database.tablet(tableName(o));
    const row = bytes(o, 'row', 'row');
    const spec = getSpec(o.spec, 'spec');
    // The reply is encoded as soon as it is returned: the values need not be copied out.
    return { cells: wireCells(await tablet.get(row, spec, { valueViews: true })) };
  }

  private async scan(req: unknown): Promise<TableReply<'table.scan'>> {
    const o = obj(req, 'request');
    const table = tableName(o);
    const tablet = this.database.tablet(table);
    const spec = scanSpec(o.spec, 'spec');
    const batchRows =
      optInt(o, 'batchRows', 'batchRows', 1, scanBatchRowsMax) ?? scanBatchRowsDefault;
    if (this.scanners.size >= scannersMax) {
      throw new TesseraError('OVERLOADED', `${scannersMax} scanners are open; close some first`, {
        limit: 'scannersMax',
      });
    }
    const s: Scanner = {
      id: this.nextScanner++,
      table,
      rows: tablet.scan({ ...spec, batchSize: Math.min(batchRows + 1, scanBatchRowsMax) }),
      batchRows,
      head: undefined,
      lease: undefined,
      busy: false,
    };
    this.scanners.set(s.id, s);
    const { rows, done } = await this.pull(s);
    return { scanner: s.id, rows, done };
  }

  private scanNext(req: unknown): Promise<TableReply<'table.scanNext'>> {
    const id = int(obj(req, 'request'), 'scanner', 'scanner', 1, Number.MAX_SAFE_INTEGER);
    const s = this.scanners.get(id);
    if (s === undefined) {
      throw new TesseraError('NOT_FOUND', `scanner ${id} expired or unknown`, { scanner: id });
    }
    if (s.busy) throw invalidArgument(`scanner ${id} already has a scanNext in flight`);
    return this.pull(s);
  }

  private scanClose(req: unknown): Promise<TableReply<'table.scanClose'>> {
    const id = int(obj(req, 'request'), 'scanner', 'scanner', 1, Number.MAX_SAFE_INTEGER);
    const s = this.scanners.get(id);
    if (s !== undefined) this.release(s);
    return Promise.resolve({});
  }

  /** The scanner's next batch; a done or failed scanner is released, a live one re-leased. */
  private async pull(s: Scanner): Promise<{ rows: WireRow[]; done: boolean }> {
    s.lease?.cancel();
    s.lease = undefined;
    s.busy = true;
    try {
      const out = await this.fill(s);
      if (out.done) this.release(s);
      return out;
    } catch (err) {
      this.release(s);
      throw err;
    } finally {
      s.busy = false;
      if (this.scanners.get(s.id) === s) {
        s.lease = this.env.timers.after(scannerLeaseMs, () => this.release(s));
      }
    }
  }

  private async fill(s: Scanner): Promise<{ rows: WireRow[]; done: boolean }> {
    const rows: WireRow[] = [];
    let size = 0;
    for (;;) {
      let r = s.head;
      s.head = undefined;
      if (r === undefined) {
        const next = await s.rows.next();
        if (next.done === true) return { rows, done: true };
        r = next.value;
      }
      if (rows.length >= s.batchRows || (rows.length > 0 && size >= scanBatchBytesMax)) {
        s.head = r;
        return { rows, done: false };
      }
      rows.push({ row: r.row, cells: wireCells(r.cells) });
      size += rowBytes(r);
    }
  }

  private release(s: Scanner): void {
    if (this.scanners.get(s.id) !== s) return;
    this.scanners.delete(s.id);
    s.lease?.cancel();
    s.lease = undefined;
    s.head = undefined;
    // Ends the scan's read (unpinning its files); queued behind a next() still running.
    s.rows.return(undefined).catch(() => undefined);
  }

  /** Releases every scanner; later calls are SHUTTING_DOWN. The database stays open. */
  close(): Promise<void> {
    this.closed = true;
    for (const s of [...this.scanners.values()]) this.release(s);
    return Promise.resolve();
  }
}
