/**
 * Helpers shared by the sstable tests (kept out of the build with testdata/). Only the Env is
 * used here; tests make their own temporary directories.
 */
import type { File, FileSystem } from '../../../env/types.js';
import { compareBytes, copyBytes } from '../../../util/bytes.js';
import { TesseraError } from '../../../util/errors.js';
import type { Prng } from '../../../util/prng.js';
import { type EntryIterator, settle } from '../../iterator.js';
import type { TableOptions } from '../options.js';
import { TableBuilder, type TableInfo } from '../table-builder.js';

export type Entry = readonly [Uint8Array, Uint8Array];

export async function writeTable(
  fs: FileSystem,
  path: string,
  entries: readonly Entry[],
  options: TableOptions = {},
): Promise<TableInfo> {
  const file = await fs.open(path, { create: true, truncate: true });
  try {
    const b = new TableBuilder(file, path, options);
    for (const [k, v] of entries) b.add(k, v);
    return await b.finish();
  } finally {
    await file.close();
  }
}

/** Every entry from the iterator's current position to the end, copied. */
export async function drain(it: EntryIterator): Promise<Entry[]> {
  const out: Entry[] = [];
  while (it.valid()) {
    out.push([copyBytes(it.key()), copyBytes(it.value())]);
    await settle(it.next());
  }
  return out;
}

export async function scanAll(it: EntryIterator): Promise<Entry[]> {
  await settle(it.seekToFirst());
  return drain(it);
}

/**
 * `n` distinct sorted entries with keys sharing prefixes (as internal keys do) and values of
 * mixed sizes, some compressible.
 */
export function randomEntries(prng: Prng, n: number, valueBytesMax = 40): Entry[] {
  const keys = new Map<string, Uint8Array>();
  while (keys.size < n) {
    const prefix = `user${String(prng.int(Math.max(1, n >> 3))).padStart(7, '0')}/`;
    const suffix = prng.bytes(prng.between(0, 12));
    const k = new Uint8Array(prefix.length + suffix.length);
    for (let i = 0; i < prefix.length; i++) k[i] = prefix.charCodeAt(i);
    k.set(suffix, prefix.length);
    keys.set(Buffer.from(k).toString('hex'), k);
  }
  const sorted = [...keys.values()].sort(compareBytes);
  return sorted.map((k) => {
    const len = prng.between(0, valueBytesMax);
    const v = prng.chance(0.5) ? prng.bytes(len) : new Uint8Array(len).fill(k[k.length - 1] ?? 7);
    return [k, v] as const;
  });
}

/**
 * A read-only FileSystem over in-memory files, for tests that open thousands of corrupted
 * tables: only open (readOnly), read, size and close work.
 */
export function memoryFs(files: ReadonlyMap<string, Uint8Array>): FileSystem {
  const unsupported = (): never => {
    throw new Error('memoryFs: read-only test file system');
  };
  const open = (path: string): Promise<File> => {
    const data = files.get(path);
    if (!data) return Promise.reject(new TesseraError('NOT_FOUND', `no ${path}`, { path }));
    const file: File = {
      path,
      size: () => Promise.resolve(data.length),
      read: (position, length) =>
        Promise.resolve(data.slice(Math.min(position, data.length), position + length)),
      write: unsupported,
      append: unsupported,
      sync: unsupported,
      truncate: unsupported,
      close: () => Promise.resolve(),
    };
    return Promise.resolve(file);
  };
  return {
    open,
    readFile: unsupported,
    writeFile: unsupported,
    rename: unsupported,
    remove: unsupported,
    list: unsupported,
    mkdir: unsupported,
    syncDir: unsupported,
    exists: (path) => Promise.resolve(files.has(path)),
    stat: unsupported,
  };
}
