/**
 * A Tablet: the rows [startRow, endRow) of one table, backed by its own Store.
 *
 * Every write to a row runs under that row's lock (row-lock.ts) and takes one server timestamp
 * from the tablet's oracle inside it, so writes to a row are atomic, ordered, and a
 * read-check-write (checkAndMutate, increment, append) sees no other write in between. Reads
 * take no lock: the store makes each write visible all at once.
 *
 * Because the store is per tablet and the range is data, a later split can open two tablets
 * over the halves and a move can close the tablet on one server and open it on another. A row
 * outside the range raises NOT_SERVING, which tells a client to refresh its location.
 */
import type { Env } from '../env/index.js';
import {
  Store,
  type Cell,
  type RawEntry,
  type RowResult,
  type StoreGauges,
  type StoreOptions,
  type StoreStats,
} from '../storage/index.js';
import { compareBytes, toHex } from '../util/bytes.js';
import { invalidArgument, TesseraError, toTesseraError } from '../util/errors.js';
import { toBytes, type Bytes } from './bytes.js';
import { compareWith, type CompareOp } from './filters.js';
import { finishRead } from './replica-read.js';
import {
  checkRowKey,
  defaultMutationLimits,
  Mutation,
  mutationBytes,
  toWriteBatch,
  type MutationLimits,
} from './mutation.js';
import {
  readPlan,
  scanPlan,
  wholeRowPlan,
  wholeRowViewOptions,
  type GetSpec,
  type ReadPlan,
  type ScanSpec,
} from './read-spec.js';
import { RowLocks } from './row-lock.js';
import { storeOptionsFor, type TableSchema } from './schema.js';
import { TimestampOracle } from './timestamp-oracle.js';

export interface TabletOptions {
  readonly schema: TableSchema;
  /** Directory of the tablet's store. */
  readonly dir: string;
  /** First row served (inclusive); empty or absent: from the first row. */
  readonly startRow?: Bytes;
  /** Row the range ends before (exclusive); empty or absent: to the end. */
  readonly endRow?: Bytes;
  /** Engine settings (WAL mode, memory); family settings come from the schema. */
  readonly store?: Omit<StoreOptions, 'dir' | 'familyOptions'>;
  readonly limits?: Partial<MutationLimits>;
}

/** The column a checkAndMutate compares: its newest version `op` value, or its absence. */
export type Condition =
  | {
      readonly family: string;
      readonly qualifier: Bytes;
      readonly op: CompareOp;
      readonly value: Bytes;
    }
  | { readonly family: string; readonly qualifier: Bytes; readonly absent: true };

export interface WriteResult {
  /** The server timestamp of the write (cells without a client timestamp carry it). */
  readonly timestamp: number;
}

export type BatchResult =
  | { readonly ok: true; readonly timestamp: number }
  | { readonly ok: false; readonly error: TesseraError };

const int64Bytes = 8;

/** Row keys in messages: hex, or `none` for the open bound. */
function hexOr(row: Uint8Array | undefined, none: string): string {
  return row === undefined || row.length === 0 ? none : toHex(row);
}

/** An 8-byte big-endian two's-complement int64, as HBase stores counters. */
export function encodeInt64(v: bigint): Uint8Array {
  const out = new Uint8Array(int64Bytes);
  new DataView(out.buffer).setBigInt64(0, BigInt.asIntN(64, v));
  return out;
}

export function decodeInt64(b: Uint8Array): bigint {
  if (b.length !== int64Bytes) {
    throw invalidArgument(`counter value has ${b.length} bytes; an int64 counter has 8`);
  }
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigInt64(0);
}

export class Tablet {
  readonly startRow: Uint8Array;
  /** Undefined: the range runs to the end of the table. */
  readonly endRow: Uint8Array | undefined;
  readonly limits: MutationLimits;

  private readonly locks = new RowLocks();
  private readonly oracle: TimestampOracle;
  private closed = false;

  private constructor(
    readonly env: Env,
    readonly schema: TableSchema,
    private readonly store: Store,
    startRow: Uint8Array,
    endRow: Uint8Array | undefined,
    limits: MutationLimits,
  ) {
    this.startRow = startRow;
    this.endRow = endRow;
    this.limits = limits;
    this.oracle = new TimestampOracle(env.clock);
  }

  /** Opens (or recovers) the tablet's store with the schema's family settings. */
  static async open(env: Env, options: TabletOptions): Promise<Tablet> {
    const start = options.startRow === undefined ? new Uint8Array(0) : toBytes(options.startRow);
    const endBytes = options.endRow === undefined ? undefined : toBytes(options.endRow);
    const end = endBytes === undefined || endBytes.length === 0 ? undefined : endBytes;
    if (end !== undefined && compareBytes(start, end) >= 0) {
      throw invalidArgument(`tablet range is empty: start ${toHex(start)} >= end ${toHex(end)}`);
    }
    const store = await Store.open(env, {
      ...options.store,
      ...storeOptionsFor(options.schema),
      dir: options.dir,
    });
    const limits = { ...defaultMutationLimits, ...options.limits };
    return new Tablet(env, options.schema, store, start, end, limits);
  }

  /** True when the tablet's range holds `row`. */
  contains(row: Uint8Array): boolean {
    if (compareBytes(row, this.startRow) < 0) return false;
    return this.endRow === undefined || compareBytes(row, this.endRow) < 0;
  }

  private checkServing(row: Uint8Array): void {
    if (this.closed) {
      throw new TesseraError('NOT_SERVING', `tablet of table '${this.schema.name}' is closed`, {
        table: this.schema.name,
      });
    }
    if (!this.contains(row)) {
      throw new TesseraError(
        'NOT_SERVING',
        `row ${hexOr(row, '<first>')} is outside the tablet [${hexOr(this.startRow, '<first>')}, ` +
          `${hexOr(this.endRow, '<end>')}) of table '${this.schema.name}'`,
        { table: this.schema.name, row: toHex(row) },
      );
    }
  }

  // -------------------------------------------------------------------------------------------
  // Writes

  /**
   * Applies the mutation atomically, in the row's order (RowLocks.withRowWrite): after every
   * operation on the row that came before it, without waiting for their writes to be durable.
   */
  mutate(m: Mutation): Promise<WriteResult> {
    try {
      this.checkServing(m.row);
      checkRowKey(m.row, this.limits);
    } catch (err) {
      return Promise.reject(err);
    }
    // apply hands the batch to the store before its first await, as withRowWrite requires.
    return this.locks.withRowWrite(m.row, () => this.apply(m));
  }

  /** Puts (and/or deletes) the cells of one row: the same as mutate. */
  put(m: Mutation): Promise<WriteResult> {
    return this.mutate(m);
  }

  /** Deletes (and/or puts) the cells of one row: the same as mutate. */
  delete(m: Mutation): Promise<WriteResult> {
    return this.mutate(m);
  }

  /**
   * Writes `m` now; the caller holds the row's place in its order. The batch reaches the store
   * (Store.write queues it) before the first await.
   */
  private async apply(m: Mutation): Promise<WriteResult> {
    this.checkServing(m.row);
    const timestamp = this.oracle.next();
    await this.store.write(toWriteBatch(m, this.schema, timestamp, this.limits));
    return { timestamp };
  }

  /**
   * Applies `mutation` when the condition holds on the row's newest version of the column,
   * atomically: no other write to the row runs between the check and the write. Resolves to
   * whether it was applied. The mutation must be for `row`.
   */
  checkAndMutate(row: Bytes, condition: Condition, mutation: Mutation): Promise<boolean> {
    const r = toBytes(row);
    return this.guarded(r, async () => {
      if (compareBytes(mutation.row, r) !== 0) {
        throw invalidArgument('checkAndMutate: the mutation is for another row');
      }
      const current = await this.newest(r, condition.family, toBytes(condition.qualifier));
      const holds =
        'absent' in condition
          ? current === undefined
          : current !== undefined &&
            compareWith(condition.op, current.value, toBytes(condition.value));
      if (!holds) return false;
      await this.apply(mutation);
      return true;
    });
  }

  /**
   * Adds `delta` to the 8-byte big-endian int64 counter in the column (absent counts as 0) and
   * returns the new value. Wraps on overflow, as HBase's does. A value that is not 8 bytes
   * is INVALID_ARGUMENT.
   */
  increment(row: Bytes, family: string, qualifier: Bytes, delta: bigint | number): Promise<bigint> {
    const r = toBytes(row);
    const q = toBytes(qualifier);
    return this.guarded(r, async () => {
      if (typeof delta === 'number' && !Number.isSafeInteger(delta)) {
        throw invalidArgument(`increment delta must be a safe integer, got ${delta}`);
      }
      const current = await this.newest(r, family, q);
      const old = current === undefined ? 0n : decodeInt64(current.value);
      const next = BigInt.asIntN(64, old + BigInt(delta));
      await this.apply(new Mutation(r).put(family, q, encodeInt64(next)));
      return next;
    });
  }

  /** Appends `bytes` to the column's newest value (absent counts as empty); returns the result. */
  append(row: Bytes, family: string, qualifier: Bytes, bytes: Bytes): Promise<Uint8Array> {
    const r = toBytes(row);
    const q = toBytes(qualifier);
    const tail = toBytes(bytes);
    return this.guarded(r, async () => {
      const current = await this.newest(r, family, q);
      const head = current?.value ?? new Uint8Array(0);
      const value = new Uint8Array(head.length + tail.length);
      value.set(head, 0);
      value.set(tail, head.length);
      await this.apply(new Mutation(r).put(family, q, value));
      return value;
    });
  }

  /**
   * Applies many mutations, each row atomically, the batch as a whole not: one row's failure
   * does not stop the others. Results are in the mutations' order. A batch over the limits
   * fails as a whole with INVALID_ARGUMENT before anything is written.
   */
  async batch(mutations: readonly Mutation[]): Promise<BatchResult[]> {
    if (mutations.length > this.limits.batchMutationsMax) {
      throw invalidArgument(
        `mutations in one batch of ${mutations.length} exceeds the limit batchMutationsMax = ` +
          `${this.limits.batchMutationsMax}`,
        {
          limit: 'batchMutationsMax',
          actual: mutations.length,
          max: this.limits.batchMutationsMax,
        },
      );
    }
    let bytes = 0;
    for (const m of mutations) bytes += mutationBytes(m);
    if (bytes > this.limits.batchBytesMax) {
      throw invalidArgument(
        `bytes in one batch of ${bytes} exceeds the limit batchBytesMax = ${this.limits.batchBytesMax}`,
        { limit: 'batchBytesMax', actual: bytes, max: this.limits.batchBytesMax },
      );
    }
    return Promise.all(
      mutations.map((m) =>
        this.mutate(m).then(
          (r): BatchResult => ({ ok: true, timestamp: r.timestamp }),
          (err: unknown): BatchResult => ({ ok: false, error: toTesseraError(err) }),
        ),
      ),
    );
  }

  private guarded<T>(row: Uint8Array, fn: () => Promise<T>): Promise<T> {
    try {
      this.checkServing(row);
      checkRowKey(row, this.limits);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.locks.withRow(row, fn);
  }

  /** The newest visible version of one column. */
  private async newest(
    row: Uint8Array,
    family: string,
    qualifier: Uint8Array,
  ): Promise<Cell | undefined> {
    const plan = readPlan({ columns: [{ family, qualifier }], maxVersions: 1 }, this.schema);
    const cells = await this.store.get(row, plan.options);
    return cells[0];
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  /**
   * The row's cells the spec selects, after its filter; empty when there are none.
   * `valueViews`: values may pin large internal buffers (see storage ReadOptions); for callers
   * that drop the cells at once.
   */
  async get(
    row: Bytes,
    spec: GetSpec = {},
    options: { readonly valueViews?: boolean } = {},
  ): Promise<readonly Cell[]> {
    const r = toBytes(row);
    this.checkServing(r);
    checkRowKey(r, this.limits);
    const plan = readPlan(spec, this.schema);
    const read =
      options.valueViews !== true
        ? plan.options
        : plan === wholeRowPlan
          ? wholeRowViewOptions
          : { ...plan.options, valueViews: true };
    return this.finish(plan, r, await this.store.get(r, read));
  }

  /**
   * The rows of the spec's range that lie in this tablet, in key order, each with the cells
   * the spec selects after its filter; rows the filter empties are skipped and do not count
   * towards the limit. The scan reads one point in time. A range that starts outside the
   * tablet is NOT_SERVING (the client continues a longer scan at the next tablet's first row).
   * `valueViews`: as for get — values may pin large internal buffers, for callers that encode
   * each row at once.
   */
  async *scan(
    spec: ScanSpec = {},
    scanOptions: { readonly valueViews?: boolean } = {},
  ): AsyncGenerator<RowResult> {
    const plan = scanPlan(spec, this.schema);
    const start = plan.options.startRow ?? new Uint8Array(0);
    this.checkServing(start);
    if (plan.empty) return;
    let stop = plan.options.stopRow;
    if (this.endRow !== undefined && (stop === undefined || compareBytes(this.endRow, stop) < 0)) {
      stop = this.endRow;
    }
    const options = {
      ...plan.options,
      ...(start.length === 0 ? {} : { startRow: start }),
      ...(stop === undefined ? {} : { stopRow: stop }),
      ...(scanOptions.valueViews === true ? { valueViews: true } : {}),
    };
    let emitted = 0;
    for await (const batch of this.store.scanBatches(options)) {
      for (const r of batch) {
        const cells = this.finish(plan, r.row, r.cells);
        if (cells.length === 0) continue;
        yield { row: r.row, cells: cells as Cell[] };
        if (plan.limit !== undefined && ++emitted >= plan.limit) return;
      }
    }
  }

  private finish(plan: ReadPlan, row: Uint8Array, cells: readonly Cell[]): readonly Cell[] {
    return finishRead(plan, row, cells);
  }

  /**
   * Every stored entry of the row, tombstones included, for a coordinator reconciling the
   * replicas of a hashed table (replica-read.ts).
   */
  rawRow(row: Uint8Array): Promise<RawEntry[]> {
    try {
      this.checkServing(row);
      checkRowKey(row, this.limits);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.store.rawRow(row);
  }

  /**
   * Every row of the tablet with its stored entries, tombstones included, `batchRows` rows at
   * a time: what the anti-entropy repair and the streaming of hashed tables read (a hashed
   * table's one tablet holds every row this node replicates; its rows are in key order, not
   * token order). `from`: the first row to give (default: the tablet's first).
   */
  rawScanBatches(
    batchRows?: number,
    from?: Uint8Array,
  ): AsyncGenerator<{ row: Uint8Array; entries: RawEntry[] }[]> {
    const start =
      from !== undefined && compareBytes(from, this.startRow) > 0 ? from : this.startRow;
    return this.store.rawScanBatches({
      ...(start.length === 0 ? {} : { startRow: start }),
      ...(this.endRow === undefined ? {} : { stopRow: this.endRow }),
      ...(batchRows === undefined ? {} : { batchRows }),
    });
  }

  // -------------------------------------------------------------------------------------------

  /** The store's point-in-time gauges and counters, for metrics (no I/O). */
  storeSample(): { readonly gauges: StoreGauges; readonly stats: Readonly<StoreStats> } {
    return { gauges: this.store.gauges(), stats: this.store.stats };
  }

  /** The memory budget of the tablet's store (memtables, block cache, index and filters). */
  get memoryBudgetBytes(): number {
    return this.store.options.memoryBudgetBytes;
  }

  /** Gives the tablet's store a new memory budget (see Store.resizeMemory). */
  resizeMemory(bytes: number): void {
    this.store.resizeMemory(bytes);
  }

  /** Closes the store; writes still queued fail, and later calls are NOT_SERVING. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.store.close();
  }
}
