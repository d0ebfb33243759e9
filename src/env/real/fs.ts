/**
 * The real FileSystem: node:fs/promises under a root directory (the process's data
 * directory). Every path is taken relative to the root — a leading '/' names the root
 * itself — and a path that would leave it is refused with INVALID_ARGUMENT. The check is
 * lexical: symbolic links inside the root are followed wherever they point.
 */
import { constants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { posix, resolve } from 'node:path';
import { invalidArgument, ioError } from '../../util/errors.js';
import type { File, FileStat, FileSystem, OpenOptions } from '../types.js';
import { errnoOf, fsError } from './errno.js';
import { RealFile } from './file.js';

export class RealFileSystem implements FileSystem {
  /** Absolute path of the root directory. */
  readonly root: string;

  constructor(root: string) {
    if (root === '') throw invalidArgument('the file system root must not be empty');
    this.root = resolve(root);
  }

  /** The absolute path of `path` under the root; INVALID_ARGUMENT if it escapes. */
  resolve(path: string): string {
    if (path.includes('\0')) throw invalidArgument(`path contains a NUL byte`, { path });
    // Judged on the path alone, so that whether a path is valid never depends on the root.
    const rel = posix.normalize(path.replace(/^\/+/, '') || '.');
    if (rel === '..' || rel.startsWith('../')) {
      throw invalidArgument(`path '${path}' escapes the file system root`, { path });
    }
    return resolve(this.root, rel);
  }

  async open(path: string, options: OpenOptions = {}): Promise<File> {
    const abs = this.resolve(path);
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(abs, openFlags(options, path));
    } catch (err) {
      throw fsError(err, 'open', path);
    }
    try {
      const stat = await handle.stat();
      if (stat.isDirectory()) throw ioError(`open '${path}': is a directory`, { path });
      return new RealFile(path, handle, stat.size, options.dsync === true && dsyncFlag !== 0);
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw fsError(err, 'open', path);
    }
  }

  async readFile(path: string): Promise<Uint8Array> {
    const abs = this.resolve(path);
    try {
      const b = await fsp.readFile(abs);
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (err) {
      throw fsError(err, 'readFile', path);
    }
  }

  async writeFile(path: string, data: Uint8Array, options?: { sync?: boolean }): Promise<void> {
    const abs = this.resolve(path);
    const copy = new Uint8Array(data); // the caller may reuse `data` before this settles
    try {
      const handle = await fsp.open(abs, 'w');
      try {
        await handle.writeFile(copy);
        if (options?.sync) await handle.datasync();
      } finally {
        await handle.close();
      }
    } catch (err) {
      throw fsError(err, 'writeFile', path);
    }
  }

  async rename(from: string, to: string): Promise<void> {
    const absFrom = this.resolve(from);
    const absTo = this.resolve(to);
    try {
      await fsp.rename(absFrom, absTo);
    } catch (err) {
      throw fsError(err, 'rename', from, { to });
    }
  }

  async remove(path: string, options?: { recursive?: boolean }): Promise<void> {
    const abs = this.resolve(path);
    if (abs === this.root) throw invalidArgument('cannot remove the root', { path });
    try {
      if (options?.recursive) {
        await fsp.rm(abs, { recursive: true });
      } else {
        await removeOne(abs);
      }
    } catch (err) {
      throw fsError(err, 'remove', path);
    }
  }

  async list(dir: string): Promise<string[]> {
    const abs = this.resolve(dir);
    try {
      const names = await fsp.readdir(abs, { encoding: 'buffer' });
      return names.sort(Buffer.compare).map((name) => name.toString('utf8'));
    } catch (err) {
      throw fsError(err, 'list', dir);
    }
  }

  async mkdir(path: string, options?: { recursive?: boolean }): Promise<void> {
    const abs = this.resolve(path);
    try {
      await fsp.mkdir(abs, { recursive: options?.recursive ?? false });
    } catch (err) {
      throw fsError(err, 'mkdir', path);
    }
  }

  async syncDir(path: string): Promise<void> {
    const abs = this.resolve(path);
    try {
      const handle = await fsp.open(abs, constants.O_RDONLY | (constants.O_DIRECTORY ?? 0));
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (err) {
      throw fsError(err, 'syncDir', path);
    }
  }

  async exists(path: string): Promise<boolean> {
    const abs = this.resolve(path);
    try {
      await fsp.stat(abs);
      return true;
    } catch (err) {
      const errno = errnoOf(err);
      if (errno === 'ENOENT' || errno === 'ENOTDIR') return false;
      throw fsError(err, 'exists', path);
    }
  }

  async stat(path: string): Promise<FileStat> {
    const abs = this.resolve(path);
    try {
      const s = await fsp.stat(abs);
      return { size: s.size, isDirectory: s.isDirectory() };
    } catch (err) {
      throw fsError(err, 'stat', path);
    }
  }
}

function openFlags(options: OpenOptions, path: string): number {
  if (options.readOnly && options.truncate) {
    throw invalidArgument(`open '${path}': readOnly and truncate contradict`, { path });
  }
  let flags = options.readOnly ? constants.O_RDONLY : constants.O_RDWR;
  if (options.create) flags |= constants.O_CREAT | (options.exclusive ? constants.O_EXCL : 0);
  if (options.truncate) flags |= constants.O_TRUNC;
  if (options.dsync) flags |= dsyncFlag;
  return flags;
}

/** O_DSYNC where the platform has it; elsewhere (Windows) `dsync` files fdatasync on sync(). */
const dsyncFlag: number = (constants as { O_DSYNC?: number }).O_DSYNC ?? 0;

/** Removes a file, or an empty directory (unlink refuses directories: EISDIR, or EPERM on macOS). */
async function removeOne(abs: string): Promise<void> {
  try {
    await fsp.unlink(abs);
  } catch (err) {
    const errno = errnoOf(err);
    const isDir = errno === 'EISDIR' || (errno === 'EPERM' && (await isDirectory(abs)));
    if (!isDir) throw err;
    await fsp.rmdir(abs);
  }
}

async function isDirectory(abs: string): Promise<boolean> {
  return fsp.lstat(abs).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
