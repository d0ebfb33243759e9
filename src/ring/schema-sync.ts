/**
 * Hashed-table schemas of a ring: created on any node, carried to the others by gossip.
 *
 * Each node keeps a list of entries, one per table name ever created on the ring: the encoded
 * schema and a version (the creating coordinator's wall clock in microseconds), or, once the
 * table is dropped, a tombstone with the drop's version. For one name the higher version wins,
 * so every node that has seen the same entries holds the same list whatever order they came
 * in; a drop outlives a node that was down when it happened (the node would otherwise gossip
 * the table back). The digest of the list is gossiped (endpoint-state.ts's `schema`); a node
 * that sees a peer with another digest pulls the peer's list (`ring.schema`) and merges it.
 *
 * The list is persisted in `schema.json` (state-file.ts) before a change is applied to the
 * node's Database, and the Database is reconciled with it at every start, so a crash between
 * the two is repaired at restart.
 *
 * Like Cassandra's schema, this is last-write-wins: two nodes creating one name at once with
 * different families end with the later version everywhere.
 */
import type { Env } from '../env/index.js';
import {
  type Database,
  type MutationLimits,
  decodeTableSchema,
  encodeTableSchema,
  tableSchema,
  type TableSchema,
  type TableSpec,
} from '../model/index.js';
import { fromUtf8, utf8 } from '../util/bytes.js';
import { crc32c } from '../util/crc32c.js';
import { corruption, invalidArgument, TesseraError } from '../util/errors.js';
import { readStateFile, writeStateFile } from './state-file.js';

export const SCHEMA_FILE = 'schema.json';
/** Table names a ring remembers (live and dropped); more creates are INVALID_ARGUMENT. */
export const SCHEMA_ENTRIES_MAX = 10_000;

/** One table name's latest schema change, as stored and as sent to peers. */
export interface SchemaEntry {
  readonly name: string;
  readonly version: number;
  readonly dropped: boolean;
  /** The encoded schema (schema.ts's JSON); empty for a dropped table. */
  readonly schema: string;
}

function checkEntry(v: unknown): SchemaEntry {
  if (typeof v !== 'object' || v === null) throw invalidArgument('schema entry must be an object');
  const o = v as Record<string, unknown>;
  const { name, version, dropped, schema } = o;
  if (typeof name !== 'string' || typeof dropped !== 'boolean' || typeof schema !== 'string') {
    throw invalidArgument('schema entry needs name, dropped and schema');
  }
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
    throw invalidArgument('schema entry version must be a non-negative integer');
  }
  if (!dropped) {
    const s = decodeTableSchema(utf8(schema));
    if (s.name !== name || s.placement.kind !== 'hashed') {
      throw invalidArgument(`schema entry '${name}' does not hold a hashed table of that name`);
    }
  }
  return { name, version, dropped, schema: dropped ? '' : schema };
}

/** Validates a list of entries from a peer or a file; INVALID_ARGUMENT for a bad one. */
export function checkSchemaEntries(v: unknown): SchemaEntry[] {
  if (!Array.isArray(v)) throw invalidArgument('schema entries must be an array');
  if (v.length > SCHEMA_ENTRIES_MAX) throw invalidArgument('too many schema entries');
  return v.map(checkEntry);
}

/** True when `a` supersedes `b` (higher version; at equal versions a drop, then the greater schema). */
function newer(a: SchemaEntry, b: SchemaEntry): boolean {
  if (a.version !== b.version) return a.version > b.version;
  if (a.dropped !== b.dropped) return a.dropped;
  return a.schema > b.schema;
}

export class RingSchema {
  private readonly entries = new Map<string, SchemaEntry>();
  private queue: Promise<unknown> = Promise.resolve();
  private digestNow = '';

  private constructor(
    private readonly env: Env,
    private readonly dir: string,
    private readonly database: Database,
  ) {}

  /** Loads the list and brings the Database in line with it. */
  static async open(env: Env, dir: string, database: Database): Promise<RingSchema> {
    const s = new RingSchema(env, dir, database);
    const stored = await readStateFile(env, dir, SCHEMA_FILE);
    if (stored !== undefined) {
      let list: SchemaEntry[];
      try {
        list = checkSchemaEntries((stored as { entries?: unknown }).entries);
      } catch (err) {
        throw corruption(`${dir}/${SCHEMA_FILE}: ${(err as Error).message}`);
      }
      for (const e of list) s.entries.set(e.name, e);
    }
    s.refreshDigest();
    for (const e of s.entries.values()) await s.apply(e);
    return s;
  }

  /** The digest gossiped: equal lists have equal digests. */
  get digest(): string {
    return this.digestNow;
  }

  list(): SchemaEntry[] {
    return [...this.entries.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** The live hashed table's schema, or undefined. */
  schemaOf(name: string): TableSchema | undefined {
    const e = this.entries.get(name);
    if (e === undefined || e.dropped) return undefined;
    try {
      return this.database.describeTable(name);
    } catch {
      return undefined;
    }
  }

  /** The mutation limits of a table's tablet on this node. */
  limitsOf(name: string): MutationLimits {
    return this.database.tablet(name).limits;
  }

  private refreshDigest(): void {
    const text = this.list()
      .map((e) => `${e.name}\u0000${e.version}\u0000${e.dropped ? 1 : 0}\u0000${e.schema}`)
      .join('\u0001');
    this.digestNow = `${this.entries.size}-${(crc32c(utf8(text)) >>> 0).toString(16)}`;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async persist(): Promise<void> {
    await writeStateFile(this.env, this.dir, SCHEMA_FILE, { version: 1, entries: this.list() });
    this.refreshDigest();
  }

  /** Makes the Database hold what the entry says. */
  private async apply(e: SchemaEntry): Promise<void> {
    let current: TableSchema | undefined;
    try {
      current = this.database.describeTable(e.name);
    } catch {
      current = undefined;
    }
    if (e.dropped) {
      if (current?.placement.kind === 'hashed') await this.database.dropTable(e.name);
      return;
    }
    const wanted = decodeTableSchema(utf8(e.schema));
    if (current !== undefined) {
      if (current.placement.kind !== 'hashed') return; // an ordered table of that name: leave it
      if (fromUtf8(encodeTableSchema(current)) === e.schema) return;
      await this.database.dropTable(e.name); // replaced by a newer create of the name
    }
    await this.database.createTable(wanted);
  }

  /** Creates a hashed table on this node and records it for the ring; ALREADY_EXISTS when live. */
  create(spec: TableSpec, nowMicros: number): Promise<TableSchema> {
    const schema = tableSchema(spec);
    if (schema.placement.kind !== 'hashed') throw invalidArgument('not a hashed table');
    return this.serial(async () => {
      const had = this.entries.get(schema.name);
      if (had !== undefined && !had.dropped) {
        throw new TesseraError('ALREADY_EXISTS', `table '${schema.name}' already exists`, {
          table: schema.name,
        });
      }
      if (this.database.listTables().includes(schema.name)) {
        throw new TesseraError('ALREADY_EXISTS', `table '${schema.name}' already exists`, {
          table: schema.name,
        });
      }
      if (had === undefined && this.entries.size >= SCHEMA_ENTRIES_MAX) {
        throw invalidArgument(`a ring remembers at most ${SCHEMA_ENTRIES_MAX} table names`);
      }
      const e: SchemaEntry = {
        name: schema.name,
        version: Math.max(nowMicros, (had?.version ?? 0) + 1),
        dropped: false,
        schema: fromUtf8(encodeTableSchema(schema)),
      };
      this.entries.set(e.name, e);
      await this.persist();
      await this.apply(e);
      return schema;
    });
  }

  /** Drops a hashed table for the ring; NOT_FOUND when there is no live one. */
  drop(name: string, nowMicros: number): Promise<void> {
    return this.serial(async () => {
      const had = this.entries.get(name);
      if (had === undefined || had.dropped) {
        throw new TesseraError('NOT_FOUND', `table '${name}' does not exist`, { table: name });
      }
      const e: SchemaEntry = {
        name,
        version: Math.max(nowMicros, had.version + 1),
        dropped: true,
        schema: '',
      };
      this.entries.set(name, e);
      await this.persist();
      await this.apply(e);
    });
  }

  /** Takes a peer's entries; resolves to whether anything changed here. */
  merge(remote: readonly SchemaEntry[]): Promise<boolean> {
    return this.serial(async () => {
      const changed: SchemaEntry[] = [];
      for (const r of remote) {
        const had = this.entries.get(r.name);
        if (had !== undefined && !newer(r, had)) continue;
        if (had === undefined && this.entries.size >= SCHEMA_ENTRIES_MAX) continue;
        this.entries.set(r.name, r);
        changed.push(r);
      }
      if (changed.length === 0) return false;
      await this.persist();
      for (const e of changed) await this.apply(e);
      return true;
    });
  }
}
