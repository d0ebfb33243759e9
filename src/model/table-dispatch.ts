/**
 * The table dispatcher: answers table requests (table-protocol.ts) against a Database, for the
 * native protocol's `table.*` handlers and, unchanged, for the embedded mode.
 *
 * Requests are untrusted: table-check.ts checks every field's type and range, with
 * INVALID_ARGUMENT naming the field, before a handler here acts on them.
 *
 * Scanners: table.scan opens one and returns its first batch; the client pulls the rest with
 * table.scanNext. One row is read ahead so `done` is exact. A scanner idle for
 * scannerLeaseMs is dropped (its read unpins its files), and at most scannersMax are open.
 */
import type { Env, Timer } from '../env/index.js';
import type { Cell, RowResult } from '../storage/index.js';
import { copyBytes, fromUtf8 } from '../util/bytes.js';
import { TesseraError, invalidArgument, toTesseraError } from '../util/errors.js';
import type { Database } from './database.js';
import {
  badField,
  bytes,
  condition,
  consistency,
  delta,
  family,
  getSpec,
  int,
  mutation,
  obj,
  optInt,
  scanSpec,
  tableName,
  tableSpec,
} from './table-check.js';
import type {
  TableCaller,
  TableMethod,
  TableReply,
  TableRequest,
  WireRow,
} from './table-protocol.js';

// The request limits live with the checks that enforce them; re-exported for existing importers.
export { filterDepthMax, filterNodesMax, readColumnsMax } from './table-check.js';

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

/** The row with its own copy of every value (values may be views of large stored buffers). */
function ownedRow(r: RowResult): RowResult {
  return { row: r.row, cells: r.cells.map((c) => ({ ...c, value: copyBytes(c.value) })) };
}

/** Cells in their wire form (table-protocol.ts's WireCells). */
export function wireCells(cells: readonly Cell[]): (string | number | Uint8Array)[] {
  const out = new Array<string | number | Uint8Array>(cells.length * 4);
  let i = 0;
  // A row's cells come family by family, each family's sharing one array: decode it once.
  let familyBytes: Uint8Array | undefined;
  let family = '';
  for (const c of cells) {
    if (c.family !== familyBytes) {
      familyBytes = c.family;
      family = fromUtf8(c.family);
    }
    out[i++] = family;
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
  private closed = false;
  private readonly handlers: Handlers;

  /**
   * `valueViews`: the values of a get or a scan may be views of stored bytes (see storage
   * ReadOptions), for a caller that encodes each reply at once — the RPC server. (The one row a
   * scanner reads ahead and keeps between calls is copied.) Embedded callers keep rows for as
   * long as they like, so by default values are copied out of large buffers.
   */
  constructor(
    readonly env: Env,
    readonly database: Database,
    private readonly options: { readonly valueViews?: boolean } = {},
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

  /**
   * A fresh scanner id: 52 random bits, so that one client cannot guess (and close or read)
   * another's scanner — scanners are not tied to a connection, which embedded calls lack.
   */
  private newScannerId(): number {
    for (;;) {
      const id = (this.env.random.int(1 << 20) + 1) * 2 ** 32 + this.env.random.uint32();
      if (!this.scanners.has(id)) return id;
    }
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
    consistency(o); // any valid level: an ordered table is linearizable at every one
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
    consistency(o);
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
    consistency(o);
    const row = bytes(o, 'row', 'row');
    const spec = getSpec(o.spec, 'spec');
    const valueViews = this.options.valueViews === true;
    return { cells: wireCells(await tablet.get(row, spec, { valueViews })) };
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
      id: this.newScannerId(),
      table,
      rows: tablet.scan(
        { ...spec, batchSize: Math.min(batchRows + 1, scanBatchRowsMax) },
        { valueViews: this.options.valueViews === true },
      ),
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
        // Kept until the next call, maybe for the whole lease: a view would pin its buffer.
        s.head = this.options.valueViews === true ? ownedRow(r) : r;
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
