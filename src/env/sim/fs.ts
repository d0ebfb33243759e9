import { copyBytes } from '../../util/bytes.js';
import type { File, FileStat, FileSystem, OpenOptions } from '../types.js';
import { TesseraError, invalidArgument } from '../../util/errors.js';
import type { DiskLane, DiskOpKind, SimDisk } from './disk.js';
import type { Lifetime } from './kernel.js';
import type { FileInode } from './volume.js';

/**
 * One incarnation's view of its node's disk: the Env FileSystem. Every call becomes one disk
 * operation (latency, possible injected fault, completion as an event of this incarnation).
 * Buffers are copied on the way in and out, so callers may reuse theirs at once.
 */
export class SimFileSystem implements FileSystem {
  constructor(
    private readonly disk: SimDisk,
    private readonly owner: Lifetime,
  ) {}

  open(path: string, options: OpenOptions = {}): Promise<File> {
    if (options.readOnly === true && options.truncate === true) {
      return Promise.reject(invalidArgument('cannot truncate a file opened read-only', { path }));
    }
    const mutates = options.create === true || options.truncate === true;
    return this.run('meta', mutates ? 'write' : 'meta', `open ${path}`, () => {
      const inode = this.disk.volume.open(path, options);
      return new SimFile(this, path, inode, options.readOnly === true, options.dsync === true);
    });
  }

  readFile(path: string): Promise<Uint8Array> {
    return this.run('meta', 'read', `readFile ${path}`, () => this.disk.volume.readFile(path));
  }

  writeFile(
    path: string,
    data: Uint8Array,
    options: { readonly sync?: boolean } = {},
  ): Promise<void> {
    const copy = copyBytes(data);
    const sync = options.sync === true;
    const label = `writeFile ${path} ${copy.length}B${sync ? ' sync' : ''}`;
    return this.run('meta', sync ? 'sync' : 'write', label, () =>
      this.disk.volume.writeFile(path, copy, sync),
    );
  }

  rename(from: string, to: string): Promise<void> {
    return this.run('meta', 'write', `rename ${from} ${to}`, () =>
      this.disk.volume.rename(from, to),
    );
  }

  remove(path: string, options: { readonly recursive?: boolean } = {}): Promise<void> {
    const recursive = options.recursive === true;
    return this.run('meta', 'write', `remove ${path}`, () =>
      this.disk.volume.remove(path, recursive),
    );
  }

  list(dir: string): Promise<string[]> {
    return this.run('meta', 'meta', `list ${dir}`, () => this.disk.volume.list(dir));
  }

  mkdir(path: string, options: { readonly recursive?: boolean } = {}): Promise<void> {
    const recursive = options.recursive === true;
    return this.run('meta', 'write', `mkdir ${path}`, () =>
      this.disk.volume.mkdir(path, recursive),
    );
  }

  syncDir(path: string): Promise<void> {
    return this.run('meta', 'sync', `syncDir ${path}`, () => this.disk.volume.syncDir(path));
  }

  exists(path: string): Promise<boolean> {
    return this.run('meta', 'meta', `exists ${path}`, () => this.disk.volume.exists(path));
  }

  stat(path: string): Promise<FileStat> {
    return this.run('meta', 'meta', `stat ${path}`, () => this.disk.volume.stat(path));
  }

  /** @internal Submits one operation for this incarnation. */
  run<T>(lane: DiskLane, kind: DiskOpKind, label: string, op: () => T): Promise<T> {
    return this.disk.submit(this.owner, lane, kind, label, op);
  }

  /** @internal */
  get volume(): SimDisk['volume'] {
    return this.disk.volume;
  }
}

/** An open file: operations on it complete in issue order (one lane per inode). */
class SimFile implements File {
  private closed = false;
  /** A truncate since the last sync (O_DSYNC does not cover it). */
  private truncated = false;

  constructor(
    private readonly fs: SimFileSystem,
    readonly path: string,
    private readonly inode: FileInode,
    private readonly readOnly: boolean,
    /** Writes are durable once they resolve: each is a write op followed by a sync op. */
    private readonly dsync: boolean,
  ) {}

  size(): Promise<number> {
    return this.op('meta', 'size', () => this.inode.current.length);
  }

  read(position: number, length: number): Promise<Uint8Array> {
    const bad = badRange(position, length, this.path);
    if (bad) return Promise.reject(bad);
    return this.op('read', `read @${position} ${length}B`, () =>
      this.inode.current.read(position, length),
    );
  }

  write(position: number, data: Uint8Array): Promise<void> {
    const bad = badRange(position, data.length, this.path) ?? this.readOnlyError();
    if (bad) return Promise.reject(bad);
    const copy = copyBytes(data);
    const written = this.op('write', `write @${position} ${copy.length}B`, () =>
      this.fs.volume.write(this.inode, position, copy),
    );
    return this.dsync ? written.then(() => this.syncNow()) : written;
  }

  append(data: Uint8Array): Promise<number> {
    const bad = this.readOnlyError();
    if (bad) return Promise.reject(bad);
    const copy = copyBytes(data);
    const appended = this.op('write', `append ${copy.length}B`, () => {
      const position = this.inode.current.length;
      this.fs.volume.write(this.inode, position, copy);
      return position;
    });
    // O_DSYNC modelled as the write and then an fsync, so a crash between them (or a failing
    // sync) behaves as it would for a write that had not returned yet.
    return this.dsync ? appended.then((position) => this.syncNow().then(() => position)) : appended;
  }

  sync(): Promise<void> {
    // As O_DSYNC: every write returned durable, so only a truncate since needs the sync; the
    // zero-cost op still waits for the operations issued before it.
    if (this.dsync && !this.truncated) return this.op('meta', 'sync (dsync)', () => undefined);
    this.truncated = false;
    return this.syncNow();
  }

  /** An fsync op: sync() of a plain file, and the sync half of a dsync write. */
  private syncNow(): Promise<void> {
    return this.op('sync', 'sync', () => this.fs.volume.sync(this.inode));
  }

  truncate(length: number): Promise<void> {
    const bad = badRange(0, length, this.path) ?? this.readOnlyError();
    if (bad) return Promise.reject(bad);
    this.truncated = true;
    return this.op('write', `truncate ${length}`, () =>
      this.fs.volume.truncate(this.inode, length),
    );
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return this.fs.run(this.inode.id, 'meta', `close ${this.path}`, () => undefined);
  }

  private op<T>(kind: DiskOpKind, what: string, fn: () => T): Promise<T> {
    if (this.closed) {
      return Promise.reject(
        new TesseraError('IO_ERROR', `file is closed: ${this.path}`, { path: this.path }),
      );
    }
    return this.fs.run(this.inode.id, kind, `${what} ${this.path}`, fn);
  }

  private readOnlyError(): TesseraError | undefined {
    return this.readOnly
      ? new TesseraError('IO_ERROR', `file is open read-only: ${this.path}`, { path: this.path })
      : undefined;
  }
}

function badRange(position: number, length: number, path: string): TesseraError | undefined {
  const ok =
    Number.isSafeInteger(position) && position >= 0 && Number.isSafeInteger(length) && length >= 0;
  return ok ? undefined : invalidArgument(`bad file range ${position}+${length}`, { path });
}
