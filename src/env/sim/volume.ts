import type { FileStat, OpenOptions } from '../types.js';
import { assert } from '../../util/assert.js';
import { compareBytes, utf8 } from '../../util/bytes.js';
import { TesseraError, type ErrorCode } from '../../util/errors.js';
import type { Prng } from '../../util/prng.js';
import { ByteBuffer } from './byte-buffer.js';
import { joinPath, pathComponents } from './fs-path.js';

/**
 * The state of one simulated disk, with durability modelled the way a crash sees it.
 *
 * Files are inodes. Each file keeps its durable contents (as of its last sync) and the list of
 * writes and truncates since then; each directory keeps its current entry table and the durable
 * one (as of its last syncDir). On crash every directory reverts to its durable table and every
 * file keeps its durable contents plus a random prefix of its unsynced operations, the last one
 * possibly torn — the rule leveldb's fault-injection Env and FoundationDB's non-durable files
 * apply, and the worst that a POSIX file system with ordered data writes allows.
 *
 * Everything here is synchronous; `disk.ts` adds latency, faults and ordering on top.
 */

export type WriteOp =
  | { readonly kind: 'write'; readonly position: number; readonly data: Uint8Array }
  | { readonly kind: 'truncate'; readonly length: number };

export class FileInode {
  readonly kind = 'file';
  current = new ByteBuffer();
  durable = new ByteBuffer();
  pending: WriteOp[] = [];
  constructor(readonly id: number) {}
}

export class DirInode {
  readonly kind = 'dir';
  entries = new Map<string, Inode>();
  durableEntries = new Map<string, Inode>();
  constructor(readonly id: number) {}
}

export type Inode = FileInode | DirInode;

/** What a crash did to one file, for the trace: unsynced ops kept of all, and the tear. */
export interface CrashOutcome {
  readonly path: string;
  readonly opsKept: number;
  readonly opsPending: number;
  readonly tornBytes: number | undefined;
}

export class Volume {
  private root = new DirInode(0);
  private inodeIdNext = 1;

  open(path: string, options: OpenOptions = {}): FileInode {
    const parts = pathComponents(path);
    if (parts.length === 0) throw fsError('IO_ERROR', 'is a directory', path);
    const { dir, name } = this.parentOf(parts, path);
    let node = dir.entries.get(name);
    if (node === undefined) {
      if (options.create !== true) throw fsError('NOT_FOUND', 'no such file', path);
      node = new FileInode(this.inodeIdNext++);
      dir.entries.set(name, node);
    } else if (options.create === true && options.exclusive === true) {
      throw fsError('ALREADY_EXISTS', 'file exists', path);
    }
    if (node.kind === 'dir') throw fsError('IO_ERROR', 'is a directory', path);
    if (options.truncate === true) this.truncate(node, 0);
    return node;
  }

  write(file: FileInode, position: number, data: Uint8Array): void {
    file.pending.push({ kind: 'write', position, data });
    file.current.write(position, data);
  }

  truncate(file: FileInode, length: number): void {
    file.pending.push({ kind: 'truncate', length });
    file.current.truncate(length);
  }

  /** fdatasync: every operation so far becomes durable; costs O(bytes written since). */
  sync(file: FileInode): void {
    for (const op of file.pending) applyOp(file.durable, op, undefined);
    file.pending = [];
  }

  readFile(path: string): Uint8Array {
    const node = this.lookup(path);
    if (node === undefined) throw fsError('NOT_FOUND', 'no such file', path);
    if (node.kind === 'dir') throw fsError('IO_ERROR', 'is a directory', path);
    return node.current.toBytes();
  }

  writeFile(path: string, data: Uint8Array, sync: boolean): void {
    const file = this.open(path, { create: true, truncate: true });
    this.write(file, 0, data);
    if (sync) this.sync(file);
  }

  rename(from: string, to: string): void {
    const fromParts = pathComponents(from);
    const toParts = pathComponents(to);
    if (fromParts.length === 0 || toParts.length === 0) {
      throw fsError('INVALID_ARGUMENT', 'cannot rename the root', from);
    }
    const src = this.parentOf(fromParts, from);
    const node = src.dir.entries.get(src.name);
    if (node === undefined) throw fsError('NOT_FOUND', 'no such file or directory', from);
    const dst = this.parentOf(toParts, to);
    if (src.dir === dst.dir && src.name === dst.name) return;
    if (node.kind === 'dir' && isPrefix(fromParts, toParts)) {
      throw fsError('INVALID_ARGUMENT', 'cannot move a directory into itself', to);
    }
    const existing = dst.dir.entries.get(dst.name);
    if (existing?.kind === 'dir') {
      if (node.kind === 'file') throw fsError('IO_ERROR', 'is a directory', to);
      if (existing.entries.size > 0) throw fsError('IO_ERROR', 'directory not empty', to);
    } else if (existing !== undefined && node.kind === 'dir') {
      throw fsError('NOT_DIRECTORY', 'not a directory', to);
    }
    src.dir.entries.delete(src.name);
    dst.dir.entries.set(dst.name, node);
  }

  /** Unlinks a file, an empty directory, or with `recursive` a directory tree. */
  remove(path: string, recursive: boolean): void {
    const parts = pathComponents(path);
    if (parts.length === 0) throw fsError('INVALID_ARGUMENT', 'cannot remove the root', path);
    const { dir, name } = this.parentOf(parts, path);
    const node = dir.entries.get(name);
    if (node === undefined) throw fsError('NOT_FOUND', 'no such file or directory', path);
    if (node.kind === 'dir' && node.entries.size > 0 && !recursive) {
      throw fsError('IO_ERROR', 'directory not empty', path);
    }
    // Only the link goes; the subtree's own durable tables stay as they were, so a crash before
    // the parent's syncDir brings the whole tree back, as on a real file system.
    dir.entries.delete(name);
  }

  list(path: string): string[] {
    const node = this.lookup(path);
    if (node === undefined) throw fsError('NOT_FOUND', 'no such directory', path);
    if (node.kind === 'file') throw fsError('NOT_DIRECTORY', 'not a directory', path);
    return sortedNames(node.entries);
  }

  mkdir(path: string, recursive: boolean): void {
    const parts = pathComponents(path);
    if (!recursive) {
      if (parts.length === 0) throw fsError('ALREADY_EXISTS', 'directory exists', path);
      const { dir, name } = this.parentOf(parts, path);
      if (dir.entries.has(name)) throw fsError('ALREADY_EXISTS', 'file exists', path);
      dir.entries.set(name, new DirInode(this.inodeIdNext++));
      return;
    }
    let dir = this.root;
    for (let i = 0; i < parts.length; i++) {
      const name = parts[i]!;
      let next = dir.entries.get(name);
      if (next === undefined) {
        next = new DirInode(this.inodeIdNext++);
        dir.entries.set(name, next);
      } else if (next.kind === 'file') {
        const last = i === parts.length - 1;
        throw fsError(last ? 'ALREADY_EXISTS' : 'NOT_DIRECTORY', 'file in the way', path);
      }
      dir = next;
    }
  }

  syncDir(path: string): void {
    const node = this.lookup(path);
    if (node === undefined) throw fsError('NOT_FOUND', 'no such directory', path);
    if (node.kind === 'file') throw fsError('NOT_DIRECTORY', 'not a directory', path);
    node.durableEntries = new Map(node.entries);
  }

  exists(path: string): boolean {
    try {
      return this.lookup(path) !== undefined;
    } catch (err) {
      if (err instanceof TesseraError && err.code === 'NOT_DIRECTORY') return false;
      throw err;
    }
  }

  stat(path: string): FileStat {
    const node = this.lookup(path);
    if (node === undefined) throw fsError('NOT_FOUND', 'no such file or directory', path);
    return node.kind === 'file'
      ? { size: node.current.length, isDirectory: false }
      : { size: 0, isDirectory: true };
  }

  /**
   * Power loss. Directory tables revert to their durable versions; each reachable file keeps a
   * uniformly chosen prefix of its unsynced operations (k of n, k in 0..n), the k-th possibly
   * torn to a shorter prefix of its bytes. What survives is then on disk, hence durable.
   */
  crash(prng: Prng): CrashOutcome[] {
    const outcomes: CrashOutcome[] = [];
    const seenFiles = new Set<FileInode>();
    const seenDirs = new Set<DirInode>([this.root]);
    const revert = (dir: DirInode, parts: string[]): void => {
      dir.entries = new Map(dir.durableEntries);
      for (const name of sortedNames(dir.entries)) {
        const node = dir.entries.get(name)!;
        if (node.kind === 'dir') {
          // Unsynced renames of directories can leave one directory in two durable tables (even
          // a cycle); keep the first link met in sorted walk order, so the tree stays a tree.
          if (seenDirs.has(node)) {
            dir.entries.delete(name);
            dir.durableEntries.delete(name);
            continue;
          }
          seenDirs.add(node);
          revert(node, [...parts, name]);
        } else if (!seenFiles.has(node)) {
          seenFiles.add(node);
          outcomes.push(crashFile(node, joinPath([...parts, name]), prng));
        }
      }
    };
    revert(this.root, []);
    return outcomes;
  }

  /** Every file of the current tree (path → contents), including unsynced data. */
  snapshot(): Map<string, Uint8Array> {
    const files = new Map<string, Uint8Array>();
    walk(this.root, [], false, (path, file) => files.set(path, file.current.toBytes()));
    return files;
  }

  /** What is guaranteed to survive a crash: durable tables and synced contents only. */
  durableSnapshot(): Map<string, Uint8Array> {
    const files = new Map<string, Uint8Array>();
    walk(this.root, [], true, (path, file) => files.set(path, file.durable.toBytes()));
    return files;
  }

  /** Every directory of the current tree, root first, in sorted walk order. */
  directories(): string[] {
    const dirs: string[] = [];
    walk(this.root, [], false, undefined, (path) => dirs.push(path));
    return dirs;
  }

  /** Installs a file and its parent directories, all durable at once (test and scenario set-up). */
  putDurable(path: string, data: Uint8Array): void {
    const parts = pathComponents(path);
    assert(parts.length > 0, 'putDurable needs a file path');
    this.mkdir(joinPath(parts.slice(0, -1)), true);
    for (let i = 0; i < parts.length; i++) this.syncDir(joinPath(parts.slice(0, i)));
    this.writeFile(path, data, true);
    this.syncDir(joinPath(parts.slice(0, -1)));
  }

  private lookup(path: string): Inode | undefined {
    let node: Inode = this.root;
    for (const part of pathComponents(path)) {
      if (node.kind === 'file') throw fsError('NOT_DIRECTORY', 'not a directory', path);
      const next: Inode | undefined = node.entries.get(part);
      if (next === undefined) return undefined;
      node = next;
    }
    return node;
  }

  private parentOf(parts: string[], path: string): { dir: DirInode; name: string } {
    let dir = this.root;
    for (let i = 0; i < parts.length - 1; i++) {
      const next = dir.entries.get(parts[i]!);
      if (next === undefined) throw fsError('NOT_FOUND', 'no such directory', path);
      if (next.kind === 'file') throw fsError('NOT_DIRECTORY', 'not a directory', path);
      dir = next;
    }
    return { dir, name: parts[parts.length - 1]! };
  }
}

function crashFile(file: FileInode, path: string, prng: Prng): CrashOutcome {
  const n = file.pending.length;
  const kept = prng.int(n + 1);
  let tornBytes: number | undefined;
  for (let i = 0; i < kept; i++) {
    const op = file.pending[i]!;
    // Only the last kept op may be torn; truncates are metadata and land whole or not at all.
    if (i === kept - 1 && op.kind === 'write' && op.data.length > 1) {
      tornBytes = prng.between(1, op.data.length);
      applyOp(file.durable, op, tornBytes);
    } else {
      applyOp(file.durable, op, undefined);
    }
  }
  file.pending = [];
  file.current = file.durable.clone();
  return { path, opsKept: kept, opsPending: n, tornBytes };
}

function applyOp(target: ByteBuffer, op: WriteOp, bytesKept: number | undefined): void {
  if (op.kind === 'truncate') {
    target.truncate(op.length);
  } else {
    target.write(op.position, bytesKept === undefined ? op.data : op.data.subarray(0, bytesKept));
  }
}

function walk(
  dir: DirInode,
  parts: string[],
  durable: boolean,
  onFile?: (path: string, file: FileInode) => void,
  onDir?: (path: string) => void,
  seen = new Set<DirInode>(),
): void {
  seen.add(dir);
  onDir?.(joinPath(parts));
  const table = durable ? dir.durableEntries : dir.entries;
  for (const name of sortedNames(table)) {
    const node = table.get(name)!;
    const childParts = [...parts, name];
    if (node.kind === 'file') onFile?.(joinPath(childParts), node);
    else if (!seen.has(node)) walk(node, childParts, durable, onFile, onDir, seen);
  }
}

/** Names in byte order of their UTF-8 encoding (not UTF-16 order, which differs above U+FFFF). */
function sortedNames(entries: Map<string, Inode>): string[] {
  return [...entries.keys()]
    .map((name) => ({ name, key: utf8(name) }))
    .sort((a, b) => compareBytes(a.key, b.key))
    .map((e) => e.name);
}

function isPrefix(prefix: string[], parts: string[]): boolean {
  return prefix.length <= parts.length && prefix.every((p, i) => parts[i] === p);
}

function fsError(code: ErrorCode, message: string, path: string): TesseraError {
  return new TesseraError(code, `${message}: ${path}`, { path });
}
