/**
 * An open file on node:fs/promises.
 *
 * Node runs file operations on a thread pool, so two operations issued back to back may
 * reach the kernel in either order. This class restores the order callers rely on:
 * - append reserves its offset synchronously from the tracked end of file, so concurrent
 *   appends write disjoint ranges (positional writes, never O_APPEND);
 * - sync waits for every write issued before it, and fails if any of them failed (those
 *   bytes may never reach the disk; the failure is sticky, as after a failed fsync the page
 *   cache can no longer be trusted);
 * - truncate waits for earlier writes, and later writes wait for it.
 * Reads are not ordered against writes still in flight: await a write before reading it.
 * Written bytes are copied first (as the simulator does), so callers may reuse their buffer
 * as soon as write or append returns, before the promise settles.
 */
import type { FileHandle } from 'node:fs/promises';
import { invalidArgument, ioError, type TesseraError } from '../../util/errors.js';
import type { File } from '../types.js';
import { fsError } from './errno.js';

export class RealFile implements File {
  readonly path: string;
  private readonly handle: FileHandle;
  /** File length including every write issued so far, some perhaps still in flight. */
  private end: number;
  /** Writes and truncates issued and not yet settled. */
  private readonly pending = new Set<Promise<void>>();
  /** Settles when the truncate in flight does; writes issued meanwhile wait for it. */
  private barrier: Promise<void> | undefined;
  /** The first failed write or truncate; every later sync fails with it. */
  private failure: TesseraError | undefined;
  private closed = false;
  /** Opened with O_DSYNC: writes are durable when they complete. */
  private readonly dsync: boolean;
  /** A truncate since the last fdatasync (O_DSYNC does not cover it). */
  private truncated = false;

  /** `size` is the file's length when opened; `dsync`: it was opened with O_DSYNC. */
  constructor(path: string, handle: FileHandle, size: number, dsync = false) {
    this.path = path;
    this.handle = handle;
    this.end = size;
    this.dsync = dsync;
  }

  async size(): Promise<number> {
    this.checkOpen('size');
    try {
      // Another handle may have grown the file; this one's writes in flight count too.
      const { size } = await this.handle.stat();
      return Math.max(size, this.end);
    } catch (err) {
      throw fsError(err, 'stat', this.path);
    }
  }

  async read(position: number, length: number): Promise<Uint8Array> {
    this.checkOpen('read');
    checkOffset(position, 'position');
    checkOffset(length, 'length');
    const out = new Uint8Array(length);
    let done = 0;
    try {
      while (done < length) {
        const { bytesRead } = await this.handle.read(out, done, length - done, position + done);
        if (bytesRead === 0) break; // end of file
        done += bytesRead;
      }
    } catch (err) {
      throw fsError(err, 'read', this.path);
    }
    return done === length ? out : out.subarray(0, done);
  }

  async write(position: number, data: Uint8Array): Promise<void> {
    this.checkOpen('write');
    checkOffset(position, 'position');
    this.end = Math.max(this.end, position + data.length);
    await this.track(this.writeAt(position, new Uint8Array(data)), 'write');
  }

  async append(data: Uint8Array): Promise<number> {
    this.checkOpen('append');
    const offset = this.end;
    this.end += data.length;
    await this.track(this.writeAt(offset, new Uint8Array(data)), 'append');
    return offset;
  }

  async sync(): Promise<void> {
    this.checkOpen('sync');
    // With O_DSYNC every write returns durable: only a truncate issued before this call needs
    // the fdatasync (one issued later sets the flag again for the next sync).
    const needed = !this.dsync || this.truncated;
    this.truncated = false;
    await Promise.allSettled([...this.pending]);
    if (this.failure) {
      throw ioError(
        `sync '${this.path}': an earlier write failed, so written data may be lost`,
        { path: this.path },
        this.failure,
      );
    }
    if (!needed) return;
    try {
      await this.handle.datasync();
    } catch (err) {
      this.failure ??= fsError(err, 'sync', this.path);
      throw this.failure;
    }
  }

  async truncate(length: number): Promise<void> {
    this.checkOpen('truncate');
    checkOffset(length, 'length');
    this.end = length;
    this.truncated = true;
    const earlier = [...this.pending];
    const op = Promise.allSettled(earlier).then(() => this.handle.truncate(length));
    const settled = op.then(ignore, ignore);
    this.barrier = settled;
    try {
      await this.track(op, 'truncate');
    } finally {
      if (this.barrier === settled) this.barrier = undefined;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.pending]);
    try {
      await this.handle.close();
    } catch (err) {
      throw fsError(err, 'close', this.path);
    }
  }

  private async writeAt(position: number, data: Uint8Array): Promise<void> {
    if (this.barrier) await this.barrier;
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(
        data,
        done,
        data.length - done,
        position + done,
      );
      if (bytesWritten === 0) throw ioError(`write '${this.path}' made no progress`);
      done += bytesWritten;
    }
  }

  /** Registers an operation in flight until it settles; records its failure. */
  private async track(op: Promise<void>, name: string): Promise<void> {
    this.pending.add(op);
    try {
      await op;
    } catch (err) {
      const error = fsError(err, name, this.path);
      this.failure ??= error;
      throw error;
    } finally {
      this.pending.delete(op);
    }
  }

  private checkOpen(op: string): void {
    if (this.closed) throw ioError(`${op} '${this.path}': file is closed`, { path: this.path });
  }
}

function checkOffset(n: number, name: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw invalidArgument(`${name} must be a non-negative integer, got ${n}`, { [name]: n });
  }
}

function ignore(): void {}
