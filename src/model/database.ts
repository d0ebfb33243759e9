/**
 * A Database: the tables one serving node holds, from the durable catalog to open tablets.
 *
 * Layout under `dir` (docs/formats/catalog.md):
 *   <dir>/catalog/            the catalog Store (catalog.ts)
 *   <dir>/tables/<name>.<id>/ one table's tablet Store; `id` is the catalog sequence number
 *                             of its create, so a dropped and recreated table never shares files
 *
 * For now one Tablet covers all rows of a table (ordered placement on one node). Tablets are
 * reached only through `tablet(name)`, so a later issue can cut a table into several tablets
 * (a split) or close one here and open it elsewhere (a move) without changing callers.
 *
 * Schema changes (create, drop) run one at a time in call order, so of two concurrent creates
 * of one name exactly one wins. A drop removes the catalog entry first (the point of no
 * return), then closes the tablet and deletes its files; a crash in between leaves a data
 * directory no entry names, which the next open deletes.
 *
 * Memory: the node has one budget (default 256 MiB), shared evenly by the tables: each store
 * gets max(4 MiB, floor(budget / tables)), and every create or drop resizes every store
 * (memtable size, block cache; Store.resizeMemory). A create shrinks the others before the
 * new store opens, so the stores' budgets never add up to more than the node's while there
 * are at most budget / 4 MiB tables (64 at the default); beyond that each keeps 4 MiB.
 */
import type { Env } from '../env/index.js';
import type { StoreGauges, StoreOptions, StoreStats } from '../storage/index.js';
import { TesseraError, invalidArgument } from '../util/errors.js';
import { Catalog, type CatalogEntry } from './catalog.js';
import type { MutationLimits } from './mutation.js';
import { tableSchema, type TableSchema, type TableSpec } from './schema.js';
import { Tablet } from './tablet.js';

/** Engine options every table store gets (the schema supplies the family settings). */
export type TableStoreOptions = Omit<StoreOptions, 'dir' | 'familyOptions'>;

export interface DatabaseOptions {
  /** Data directory, relative to the Env's file-system root. */
  readonly dir: string;
  /** Engine options for table stores; `memoryBudgetBytes` is the whole node's budget. */
  readonly store?: TableStoreOptions;
  readonly limits?: Partial<MutationLimits>;
  /** Per table: a hook given each WAL fsync's duration (metrics label it by table). */
  readonly onWalSync?: (table: string) => (micros: number) => void;
}

/** One table store's gauges and counters, for metrics. */
export interface TableStoreSample {
  readonly table: string;
  readonly gauges: StoreGauges;
  readonly stats: Readonly<StoreStats>;
}

export const nodeMemoryBudgetBytesDefault = 256 * 1024 * 1024;
/** No table store gets less than this, however many tables there are. */
export const tableMemoryBytesMin = 4 * 1024 * 1024;

interface OpenTable {
  readonly entry: CatalogEntry;
  readonly tablet: Tablet;
}

function joinPath(a: string, b: string): string {
  return a === '' || a.endsWith('/') ? `${a}${b}` : `${a}/${b}`;
}

/** Directory name of a table's data: `<name>.<id>`. */
export function tableDirName(entry: CatalogEntry): string {
  return `${entry.schema.name}.${entry.id}`;
}

export function noSuchTable(name: string): TesseraError {
  return new TesseraError('NOT_FOUND', `table '${name}' does not exist`, { table: name });
}

export class Database {
  private readonly tables = new Map<string, OpenTable>();
  /** Tail of the queue of schema changes; each runs after the previous settles. */
  private ddl: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly env: Env,
    readonly dir: string,
    private readonly catalog: Catalog,
    private readonly storeOptions: TableStoreOptions,
    private readonly limits: Partial<MutationLimits> | undefined,
    private readonly onWalSync: DatabaseOptions['onWalSync'],
  ) {}

  /** Opens the catalog, deletes orphan table directories and opens every table's tablet. */
  static async open(env: Env, options: DatabaseOptions): Promise<Database> {
    const tablesDir = joinPath(options.dir, 'tables');
    await env.fs.mkdir(tablesDir, { recursive: true });
    const catalog = await Catalog.open(env, joinPath(options.dir, 'catalog'));
    const entries = catalog.list();
    const db = new Database(
      env,
      options.dir,
      catalog,
      options.store ?? {},
      options.limits,
      options.onWalSync,
    );
    try {
      const live = new Set(entries.map(tableDirName));
      for (const name of await env.fs.list(tablesDir)) {
        if (!live.has(name)) await env.fs.remove(joinPath(tablesDir, name), { recursive: true });
      }
      await env.fs.syncDir(tablesDir);
      const share = db.memoryShare(entries.length);
      for (const entry of entries) await db.openTable(entry, share);
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
    return db;
  }

  /** Each table store's memory budget when the node holds `tables` tables. */
  private memoryShare(tables: number): number {
    const budget = this.storeOptions.memoryBudgetBytes ?? nodeMemoryBudgetBytesDefault;
    return Math.max(tableMemoryBytesMin, Math.floor(budget / Math.max(1, tables)));
  }

  /** Resizes every open table store to `share` bytes. */
  private resizeTables(share: number): void {
    for (const t of this.tables.values()) {
      if (t.tablet.memoryBudgetBytes !== share) t.tablet.resizeMemory(share);
    }
  }

  private async openTable(entry: CatalogEntry, share: number): Promise<Tablet> {
    const store: TableStoreOptions = { ...this.storeOptions, memoryBudgetBytes: share };
    const tablet = await Tablet.open(this.env, {
      schema: entry.schema,
      dir: joinPath(joinPath(this.dir, 'tables'), tableDirName(entry)),
      store:
        this.onWalSync === undefined
          ? store
          : { ...store, onWalSync: this.onWalSync(entry.schema.name) },
      ...(this.limits === undefined ? {} : { limits: this.limits }),
    });
    this.tables.set(entry.schema.name, { entry, tablet });
    return tablet;
  }

  private checkOpen(): void {
    if (this.closed) throw new TesseraError('SHUTTING_DOWN', 'database is closed');
  }

  /** Runs `fn` after every schema change called before it has settled. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    try {
      this.checkOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    const run = this.ddl.then(fn);
    this.ddl = run.catch(() => undefined);
    return run;
  }

  /** Validates the spec, records the table durably and opens its (empty) tablet. */
  createTable(spec: TableSpec): Promise<TableSchema> {
    let schema: TableSchema;
    try {
      schema = tableSchema(spec);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.serial(async () => {
      if (this.catalog.get(schema.name) !== undefined) {
        throw new TesseraError('ALREADY_EXISTS', `table '${schema.name}' already exists`, {
          table: schema.name,
        });
      }
      const entry = await this.catalog.add(schema);
      // The others shrink first, so the budgets never add up to more than the node's.
      const share = this.memoryShare(this.tables.size + 1);
      this.resizeTables(share);
      try {
        await this.openTable(entry, share);
      } catch (err) {
        // Undo the entry so the name is free again; if that fails too, the next open retries
        // the table (its directory is created then).
        await this.catalog.remove(schema.name).catch(() => undefined);
        this.resizeTables(this.memoryShare(this.tables.size));
        throw err;
      }
      return schema;
    });
  }

  /** The table's schema; NOT_FOUND when there is no such table. */
  describeTable(name: string): TableSchema {
    this.checkOpen();
    const t = this.tables.get(name);
    if (t === undefined) throw noSuchTable(name);
    return t.entry.schema;
  }

  /** Names of every table, sorted. */
  listTables(): string[] {
    this.checkOpen();
    return [...this.tables.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Each open table store's gauges and counters, for metrics (no I/O). */
  storeSamples(): TableStoreSample[] {
    if (this.closed) return [];
    return [...this.tables].map(([table, t]) => ({ table, ...t.tablet.storeSample() }));
  }

  /** The tablet serving the table's rows; NOT_FOUND when there is no such table. */
  tablet(name: string): Tablet {
    this.checkOpen();
    const t = this.tables.get(name);
    if (t === undefined) throw noSuchTable(name);
    return t.tablet;
  }

  /**
   * Drops the table: its catalog entry goes first (after that the drop is final), then the
   * tablet is closed (later calls on it are NOT_SERVING) and its files deleted.
   */
  dropTable(name: string): Promise<void> {
    if (typeof name !== 'string') return Promise.reject(invalidArgument('table must be a string'));
    return this.serial(async () => {
      const t = this.tables.get(name);
      if (t === undefined) throw noSuchTable(name);
      await this.catalog.remove(name);
      this.tables.delete(name);
      await t.tablet.close();
      this.resizeTables(this.memoryShare(this.tables.size));
      const tablesDir = joinPath(this.dir, 'tables');
      await this.env.fs.remove(joinPath(tablesDir, tableDirName(t.entry)), { recursive: true });
      await this.env.fs.syncDir(tablesDir);
    });
  }

  /** Waits for schema changes under way, then closes every tablet and the catalog. */
  async close(): Promise<void> {
    if (this.closed) return;
    // Changes already queued finish; later ones (and every other call) are SHUTTING_DOWN.
    this.closed = true;
    await this.ddl;
    const open = [...this.tables.values()];
    this.tables.clear();
    let first: unknown;
    for (const t of open) {
      await t.tablet.close().catch((err: unknown) => (first ??= err));
    }
    await this.catalog.close().catch((err: unknown) => (first ??= err));
    if (first !== undefined) throw first;
  }
}
