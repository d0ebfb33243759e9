/**
 * LevelDB, through its Node binding `classic-level`, as the peer of `tessera bench storage
 * --compare leveldb`. The package is imported dynamically so that the command works without it
 * (it is a devDependency); only --compare needs it.
 *
 * LevelDB reports bytes written by flushes and compactions in `leveldb.stats`, rounded to whole
 * MiB per level. It does not count its log, so the WAL bytes are computed from the log format
 * (leveldb/doc/log_format.md): each put or delete is one WriteBatch record of
 * 12 + 1 + varint(key) + key [+ varint(value) + value] bytes, with a 7-byte header per fragment
 * in 32 KiB blocks.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchEngine, Cursor, LevelInfo, SeekResult } from './storage-engine.js';

interface LevelIterator {
  next(): Promise<[Buffer, Buffer] | undefined>;
  close(): Promise<void>;
}

interface LevelDb {
  open(): Promise<void>;
  close(): Promise<void>;
  put(key: Buffer, value: Buffer, options: { sync: boolean }): Promise<void>;
  del(key: Buffer, options: { sync: boolean }): Promise<void>;
  get(key: Buffer): Promise<Buffer | undefined>;
  iterator(options: { gte?: Buffer; limit?: number; fillCache?: boolean }): LevelIterator;
  compactRange(start: Buffer, end: Buffer): Promise<void>;
  getProperty(name: string): string;
}

interface ClassicLevelOptions {
  readonly keyEncoding: 'buffer';
  readonly valueEncoding: 'buffer';
  readonly createIfMissing: boolean;
  readonly compression: boolean;
  readonly cacheSize: number;
  readonly writeBufferSize: number;
}

type ClassicLevelClass = new (location: string, options: ClassicLevelOptions) => LevelDb;

/** Loads classic-level, or throws an error that says how to install it. */
export async function loadClassicLevel(): Promise<ClassicLevelClass> {
  // A variable specifier: the type checker and bundlers leave the optional package alone.
  const specifier = 'classic-level';
  let mod: { ClassicLevel?: ClassicLevelClass };
  try {
    mod = (await import(specifier)) as { ClassicLevel?: ClassicLevelClass };
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new Error(
      `--compare leveldb needs the classic-level package (LevelDB's Node binding); ` +
        `install it with \`npm install classic-level\` (${reason})`,
    );
  }
  if (typeof mod.ClassicLevel !== 'function') {
    throw new Error('the installed classic-level package has no ClassicLevel export');
  }
  return mod.ClassicLevel;
}

export interface LevelDbEngineOptions {
  /** Root of the benchmark's files; the database lives in `<root>/leveldb`. */
  readonly root: string;
  readonly sync: boolean;
  readonly compression: boolean;
  /** LevelDB's block cache (Tessera's block cache share of its memory budget). */
  readonly cacheBytes: number;
  /** LevelDB's write buffer (Tessera's memtable size). */
  readonly writeBufferBytes: number;
}

const logBlockBytes = 32 * 1024;
const logHeaderBytes = 7;
const batchHeaderBytes = 12;
/** A range past every benchmark key (they are ASCII digits): compactRange over it only flushes. */
const pastEnd = [Buffer.from([0xff, 0xff]), Buffer.from([0xff, 0xff, 0xff])] as const;

function varintBytes(n: number): number {
  let b = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    b++;
  }
  return b;
}

export class LevelDbEngine implements BenchEngine {
  readonly name = 'leveldb';
  readonly dir: string;
  readonly settings: Record<string, string | number | boolean>;
  readonly bytesWrittenExact = false;
  private db: LevelDb | undefined;
  /** Bytes appended to the current log and the offset in its current 32 KiB block. */
  private walBytes = 0;
  private blockOffset = 0;

  constructor(
    private readonly ClassicLevel: ClassicLevelClass,
    private readonly o: LevelDbEngineOptions,
  ) {
    this.dir = join(o.root, 'leveldb');
    this.settings = {
      sync: o.sync,
      compression: o.compression ? 'snappy' : 'none',
      cacheSize: o.cacheBytes,
      writeBufferSize: o.writeBufferBytes,
      bloomBitsPerKey: 10,
    };
  }

  private get d(): LevelDb {
    if (!this.db) throw new Error('leveldb is not open');
    return this.db;
  }

  async create(): Promise<void> {
    await this.close();
    rmSync(this.dir, { recursive: true, force: true });
    await this.open();
  }

  async open(): Promise<void> {
    if (this.db) return;
    const db = new this.ClassicLevel(this.dir, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      createIfMissing: true,
      compression: this.o.compression,
      cacheSize: this.o.cacheBytes,
      writeBufferSize: this.o.writeBufferBytes,
    });
    await db.open();
    this.db = db;
    // Opening starts a new log; LevelDB's compaction stats start from zero.
    this.walBytes = 0;
    this.blockOffset = 0;
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    await db?.close();
  }

  private logRecord(payloadBytes: number): void {
    let left = payloadBytes;
    do {
      const room = logBlockBytes - this.blockOffset;
      if (room < logHeaderBytes) {
        this.walBytes += room; // zero trailer
        this.blockOffset = 0;
      }
      const fragment = Math.min(left, logBlockBytes - this.blockOffset - logHeaderBytes);
      this.walBytes += logHeaderBytes + fragment;
      this.blockOffset += logHeaderBytes + fragment;
      left -= fragment;
    } while (left > 0);
  }

  put(key: Buffer, value: Buffer): Promise<void> {
    this.logRecord(
      batchHeaderBytes +
        1 +
        varintBytes(key.length) +
        key.length +
        varintBytes(value.length) +
        value.length,
    );
    return this.d.put(key, value, { sync: this.o.sync });
  }

  del(key: Buffer): Promise<void> {
    this.logRecord(batchHeaderBytes + 1 + varintBytes(key.length) + key.length);
    return this.d.del(key, { sync: this.o.sync });
  }

  async get(key: Buffer): Promise<number> {
    const v = await this.d.get(key);
    return v === undefined ? -1 : v.length;
  }

  async seek(key: Buffer): Promise<SeekResult | undefined> {
    // db_bench's seekrandom: a new iterator per seek (fill_cache on, as LevelDB's default).
    const it = this.d.iterator({ gte: key, limit: 1, fillCache: true });
    try {
      const e = await it.next();
      return e === undefined ? undefined : { key: e[0], bytes: e[0].length + e[1].length };
    } finally {
      await it.close();
    }
  }

  cursor(): Cursor {
    const it = this.d.iterator({ fillCache: true });
    return {
      next: async () => {
        const e = await it.next();
        return e === undefined ? -1 : e[0].length + e[1].length;
      },
      close: () => it.close(),
    };
  }

  /** LevelDB's CompactRange flushes the memtable first; over a range with no keys that is all. */
  async flush(): Promise<void> {
    await this.d.compactRange(pastEnd[0], pastEnd[1]);
    // The flush switched to a new log.
    this.blockOffset = 0;
  }

  bytesWritten(): number {
    let tableMiB = 0;
    for (const row of this.statsRows()) tableMiB += row.writeMiB;
    return this.walBytes + tableMiB * 1024 * 1024;
  }

  /** The rows of `leveldb.stats`: level, files, size, time, read and written MiB (rounded). */
  private statsRows(): { level: number; files: number; writeMiB: number }[] {
    const rows = [];
    for (const line of this.d.getProperty('leveldb.stats').split('\n')) {
      const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/.exec(line);
      if (m) rows.push({ level: Number(m[1]), files: Number(m[2]), writeMiB: Number(m[6]) });
    }
    return rows;
  }

  /** Files per level with exact sizes, from `leveldb.sstables` ("--- level N ---", " num:size["). */
  levels(): LevelInfo[] {
    const out: { level: number; files: number; bytes: number }[] = [];
    let cur: { level: number; files: number; bytes: number } | undefined;
    for (const line of this.d.getProperty('leveldb.sstables').split('\n')) {
      const head = /^--- level (\d+) ---/.exec(line);
      if (head) {
        cur = { level: Number(head[1]), files: 0, bytes: 0 };
        out.push(cur);
        continue;
      }
      const file = /^\s*(\d+):(\d+)\[/.exec(line);
      if (file && cur) {
        cur.files++;
        cur.bytes += Number(file[2]);
      }
    }
    return out;
  }

  async memory(): Promise<Record<string, number>> {
    return {
      approximateMemoryUsage: Number(this.d.getProperty('leveldb.approximate-memory-usage')),
    };
  }

  counters(): Record<string, number> {
    let tableMiB = 0;
    for (const row of this.statsRows()) tableMiB += row.writeMiB;
    return { walBytesComputed: this.walBytes, tableWriteMiB: tableMiB };
  }
}
