/**
 * The engines `tessera bench storage` drives: the operations of the db_bench workloads, one
 * awaited at a time, over Tessera's Store (here) or LevelDB (leveldb-peer.ts).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../../env/index.js';
import { realEnv } from '../../env/real/index.js';
import { defaultFamilyOptions, type FamilyOptions } from '../../storage/family-options.js';
import { resolveOptions, type Compression, type CompactionStyle } from '../../storage/options.js';
import { Store, type RowResult } from '../../storage/store.js';
import { WriteBatch } from '../../storage/write-batch.js';

export interface LevelInfo {
  readonly level: number;
  readonly files: number;
  readonly bytes: number;
}

export interface Cursor {
  /** Key + value bytes of the next entry in key order, or -1 at the end. */
  next(): Promise<number>;
  close(): Promise<void>;
}

export interface SeekResult {
  readonly key: Uint8Array;
  readonly bytes: number;
}

export interface BenchEngine {
  readonly name: 'tessera' | 'leveldb';
  /** Absolute directory of the store (its files are what "disk" sums). */
  readonly dir: string;
  /** Settings worth printing with the results. */
  readonly settings: Readonly<Record<string, string | number | boolean>>;
  /** Deletes any previous store and opens a new, empty one. */
  create(): Promise<void>;
  open(): Promise<void>;
  close(): Promise<void>;
  put(key: Buffer, value: Buffer): Promise<void>;
  /** Deletes the key (Tessera: deleteRow). */
  del(key: Buffer): Promise<void>;
  /** Length of the key's value, or -1 when it is absent. */
  get(key: Buffer): Promise<number>;
  /** The first entry at or after `key`: its key and key + value bytes; undefined past the end. */
  seek(key: Buffer): Promise<SeekResult | undefined>;
  /** Every entry in key order. */
  cursor(): Cursor;
  /** Writes the memtable out to a table (after a write benchmark, timed on its own). */
  flush(): Promise<void>;
  /** Bytes written since open: WAL, memtable flushes and compactions. */
  bytesWritten(): number;
  /** True when bytesWritten() is exact (false: estimated or rounded). */
  readonly bytesWrittenExact: boolean;
  levels(): LevelInfo[];
  /** The engine's own account of its memory, in bytes. */
  memory(): Promise<Record<string, number>>;
  /** Engine-specific counters since open (Tessera: store.stats). */
  counters(): Record<string, number>;
}

export interface TesseraEngineOptions {
  /** Root of the benchmark's files; the store lives in `<root>/tessera`. */
  readonly root: string;
  readonly seed: number;
  readonly sync: boolean;
  readonly memoryBudgetBytes: number;
  readonly compression: Compression;
  readonly compactionStyle: CompactionStyle;
}

const family = Buffer.from('d');
const noQualifier = new Uint8Array(0);
/** Family `d` keeps one version, so overwrites can be dropped by compaction as in LevelDB. */
const oneVersion: FamilyOptions = Object.freeze({ maxVersions: 1, ttlMicros: undefined });
const familyOptions = (f: Uint8Array): FamilyOptions =>
  f.length === 1 && f[0] === 0x64 ? oneVersion : defaultFamilyOptions;

/** Tessera's Store: row = key, family `d`, empty qualifier, timestamp = an increasing counter. */
export class TesseraEngine implements BenchEngine {
  readonly name = 'tessera';
  readonly dir: string;
  readonly settings: Record<string, string | number | boolean>;
  readonly bytesWrittenExact = true;
  /** Memtable and block cache sizes the memory budget resolves to (LevelDB is given the same). */
  readonly memtableBytes: number;
  readonly blockCacheBytes: number;
  private readonly env: Env;
  private store: Store | undefined;
  private timestamp = 0;

  constructor(private readonly o: TesseraEngineOptions) {
    this.dir = join(o.root, 'tessera');
    this.env = realEnv({ name: 'bench-storage', root: o.root, seed: o.seed });
    const resolved = resolveOptions({ dir: 'tessera', memoryBudgetBytes: o.memoryBudgetBytes });
    this.memtableBytes = resolved.memtableBytes;
    this.blockCacheBytes = resolved.blockCacheBytes;
    this.settings = {
      wal: o.sync ? 'sync always' : 'sync every 1000 ms',
      memoryBudgetBytes: o.memoryBudgetBytes,
      memtableBytes: this.memtableBytes,
      blockCacheBytes: this.blockCacheBytes,
      compression: o.compression,
      compaction: o.compactionStyle,
    };
  }

  private get s(): Store {
    if (!this.store) throw new Error('tessera store is not open');
    return this.store;
  }

  async create(): Promise<void> {
    await this.close();
    rmSync(this.dir, { recursive: true, force: true });
    await this.open();
  }

  async open(): Promise<void> {
    if (this.store) return;
    this.store = await Store.open(this.env, {
      dir: 'tessera',
      wal: this.o.sync ? { sync: 'always' } : { sync: 'interval', intervalMs: 1000 },
      memoryBudgetBytes: this.o.memoryBudgetBytes,
      compression: this.o.compression,
      compactionStyle: this.o.compactionStyle,
      familyOptions,
    });
  }

  async close(): Promise<void> {
    const store = this.store;
    this.store = undefined;
    await store?.close();
  }

  put(key: Buffer, value: Buffer): Promise<void> {
    return this.s.write(new WriteBatch().put(key, family, noQualifier, ++this.timestamp, value));
  }

  del(key: Buffer): Promise<void> {
    return this.s.write(new WriteBatch().deleteRow(key, ++this.timestamp));
  }

  async get(key: Buffer): Promise<number> {
    const cells = await this.s.get(key);
    return cells.length === 0 ? -1 : cells[0]!.value.length;
  }

  async seek(key: Buffer): Promise<SeekResult | undefined> {
    for await (const r of this.s.scan({ startRow: key, limit: 1 })) {
      let bytes = r.row.length;
      for (const c of r.cells) bytes += c.value.length;
      return { key: r.row, bytes };
    }
    return undefined;
  }

  cursor(): Cursor {
    // Rows come from the store a batch at a time (as classic-level's iterator does with nextv);
    // the per-row call the benchmark times is then usually answered from the batch.
    const batches = this.s.scanBatches();
    let rows: RowResult[] = [];
    let i = 0;
    return {
      next: async () => {
        if (i >= rows.length) {
          const r = await batches.next();
          if (r.done) return -1;
          rows = r.value;
          i = 0;
        }
        const row = rows[i++]!;
        let bytes = row.row.length;
        for (const c of row.cells) bytes += c.value.length;
        return bytes;
      },
      close: async () => {
        await batches.return(undefined);
      },
    };
  }

  flush(): Promise<void> {
    return this.s.flush();
  }

  bytesWritten(): number {
    const st = this.s.stats;
    return st.walBytes + st.flushBytes + st.compactionBytes;
  }

  levels(): LevelInfo[] {
    return this.s.levelSummary();
  }

  async memory(): Promise<Record<string, number>> {
    return { ...(await this.s.memoryUsage()) };
  }

  counters(): Record<string, number> {
    return { ...this.s.stats };
  }
}
