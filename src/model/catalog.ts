/**
 * The table catalog: which tables exist, their schemas, and where each keeps its data.
 *
 * The catalog is itself a storage-engine Store (always fsynced) in `<dir>/catalog/`, so it
 * inherits the engine's checksums, WAL replay and crash safety: an entry is either wholly
 * there or not at all. Layout (docs/formats/catalog.md):
 *
 * - one row per table, the row key being the table name in UTF-8, with one cell
 *   `catalog:entry` = [format version u8 = 1][data-directory id u64 BE][encodeTableSchema];
 * - one bookkeeping row `\x00seq` (table names never start with 0x00) holding the last
 *   catalog sequence number as u64 BE.
 *
 * Every catalog write takes the next sequence number and uses it both as the timestamp of its
 * cells and, for a create, as the table's data-directory id. The sequence is durable, so ids
 * never repeat (a dropped table's files can never be mistaken for a new table's) and a
 * recreate's cell is always newer than the drop's tombstone whatever the wall clock does.
 *
 * The Catalog does not serialize its callers: Database runs one catalog change at a time.
 */
import type { Env } from '../env/index.js';
import { Store, WriteBatch, defaultFamilyOptions, type FamilyOptions } from '../storage/index.js';
import { fromUtf8, utf8 } from '../util/bytes.js';
import { corruption } from '../util/errors.js';
import { decodeTableSchema, encodeTableSchema, type TableSchema } from './schema.js';

/** Format version of an entry cell (first byte). */
export const catalogEntryVersion = 1;
export const catalogFamily = 'catalog';
export const catalogEntryQualifier = 'entry';
export const catalogSeqQualifier = 'seq';
/** Row of the sequence counter: sorts before every table name. */
export const catalogSeqRow = new Uint8Array([0x00, ...utf8('seq')]);
/** The catalog is tiny; its store gets a small fixed budget. */
export const catalogMemoryBudgetBytes = 4 * 1024 * 1024;
/** Entries listed at open before the catalog is considered damaged. */
export const catalogTablesMax = 100_000;

const headerBytes = 9;
const familyBytes = utf8(catalogFamily);
const entryQualifier = utf8(catalogEntryQualifier);
const seqQualifier = utf8(catalogSeqQualifier);
/** Keep one version: older versions and tombstones serve no one. */
const catalogFamilyOptions: FamilyOptions = Object.freeze({
  ...defaultFamilyOptions,
  maxVersions: 1,
});

export interface CatalogEntry {
  readonly schema: TableSchema;
  /** Data-directory id: the catalog sequence number of the create. */
  readonly id: number;
}

export function encodeCatalogEntry(entry: CatalogEntry): Uint8Array {
  const schema = encodeTableSchema(entry.schema);
  const out = new Uint8Array(headerBytes + schema.length);
  const view = new DataView(out.buffer);
  out[0] = catalogEntryVersion;
  view.setBigUint64(1, BigInt(entry.id));
  out.set(schema, headerBytes);
  return out;
}

/** CORRUPTION unless `bytes` is a well-formed entry for table `name`. */
export function decodeCatalogEntry(name: string, bytes: Uint8Array): CatalogEntry {
  if (bytes.length < headerBytes) throw corruption(`catalog entry of '${name}' is truncated`);
  if (bytes[0] !== catalogEntryVersion) {
    throw corruption(`catalog entry of '${name}' has unknown version ${bytes[0]}`);
  }
  const id = readU64(bytes.subarray(1, headerBytes), `catalog entry of '${name}'`);
  const schema = decodeTableSchema(bytes.subarray(headerBytes));
  if (schema.name !== name) {
    throw corruption(`catalog row '${name}' holds the schema of '${schema.name}'`);
  }
  return { schema, id };
}

function u64(v: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(v));
  return out;
}

function readU64(b: Uint8Array, what: string): number {
  if (b.length !== 8) throw corruption(`${what}: expected 8 bytes, got ${b.length}`);
  const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corruption(`${what}: ${v} is not a safe integer`);
  return Number(v);
}

export class Catalog {
  private constructor(
    private readonly store: Store,
    private seq: number,
    private readonly entries: Map<string, CatalogEntry>,
  ) {}

  /** Opens (or creates) the catalog store in `dir` and reads every entry. */
  static async open(env: Env, dir: string): Promise<Catalog> {
    const store = await Store.open(env, {
      dir,
      wal: { sync: 'always' },
      memoryBudgetBytes: catalogMemoryBudgetBytes,
      familyOptions: () => catalogFamilyOptions,
    });
    try {
      const seqCells = await store.get(catalogSeqRow, { families: [familyBytes], maxVersions: 1 });
      const seq = seqCells[0] === undefined ? 0 : readU64(seqCells[0].value, 'catalog sequence');
      const entries = new Map<string, CatalogEntry>();
      for await (const r of store.scan({ startRow: new Uint8Array([0x01]), maxVersions: 1 })) {
        const name = fromUtf8(r.row);
        const cell = r.cells.find((c) => fromUtf8(c.qualifier) === catalogEntryQualifier);
        if (cell === undefined) continue;
        const entry = decodeCatalogEntry(name, cell.value);
        if (entry.id > seq) {
          throw corruption(`catalog entry '${name}' has id ${entry.id} above sequence ${seq}`);
        }
        entries.set(name, entry);
        if (entries.size > catalogTablesMax) {
          throw corruption(`catalog lists more than ${catalogTablesMax} tables`);
        }
      }
      return new Catalog(store, seq, entries);
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
  }

  /** Every entry, sorted by table name. */
  list(): CatalogEntry[] {
    return [...this.entries.values()].sort((a, b) =>
      a.schema.name < b.schema.name ? -1 : a.schema.name > b.schema.name ? 1 : 0,
    );
  }

  get(name: string): CatalogEntry | undefined {
    return this.entries.get(name);
  }

  /** Durably records a new table and returns its entry (with a fresh id). */
  async add(schema: TableSchema): Promise<CatalogEntry> {
    const id = this.seq + 1;
    const entry: CatalogEntry = { schema, id };
    const batch = new WriteBatch()
      .put(utf8(schema.name), familyBytes, entryQualifier, id, encodeCatalogEntry(entry))
      .put(catalogSeqRow, familyBytes, seqQualifier, id, u64(id));
    await this.store.write(batch);
    this.seq = id;
    this.entries.set(schema.name, entry);
    return entry;
  }

  /** Durably removes a table's entry (a no-op when absent). */
  async remove(name: string): Promise<void> {
    if (!this.entries.has(name)) return;
    const seq = this.seq + 1;
    const batch = new WriteBatch()
      .deleteRow(utf8(name), seq)
      .put(catalogSeqRow, familyBytes, seqQualifier, seq, u64(seq));
    await this.store.write(batch);
    this.seq = seq;
    this.entries.delete(name);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
