/**
 * Appends framed records (format.ts) to a file through the Env.
 *
 * The writer tracks the end of the log itself and checks every append landed there: the log
 * is valid only if records follow one another with no gap, so an append at any other offset
 * (someone else writing the file) is an assertion failure, not something to paper over.
 *
 * A failed append or sync makes the writer refuse all further work. After a failed write the
 * file may hold part of the record, and appending more would put valid records after garbage
 * — damage in the middle of the log, which the reader must call corruption. After a failed
 * fsync the kernel may already have dropped the dirty pages (Linux marks them clean; see
 * PostgreSQL's "fsyncgate"), so a retry can report success for data that never reached the
 * disk. The owner must close, reopen and recover from what the reader finds.
 */
import { assert } from '../../util/assert.js';
import { ByteWriter } from '../../util/byte-io.js';
import { crc32c, maskCrc } from '../../util/crc32c.js';
import { invalidArgument, ioError, type TesseraError } from '../../util/errors.js';
import type { File, FileSystem } from '../../env/types.js';
import {
  RecordType,
  crcOffset,
  headerCrcOffset,
  lengthOffset,
  recordBytes,
  recordBytesMax,
  recordHeaderBytes,
} from './format.js';

/** Throws INVALID_ARGUMENT unless `payload` fits in one record. */
function checkPayload(payload: Uint8Array): void {
  if (payload.length > recordBytesMax) {
    throw invalidArgument(
      `log record of ${payload.length} bytes exceeds the maximum of ${recordBytesMax}`,
      { bytes: payload.length, bytesMax: recordBytesMax },
    );
  }
}

/** Appends one framed record for `payload` to `out`. */
export function encodeRecord(out: ByteWriter, payload: Uint8Array): void {
  checkPayload(payload);
  const start = out.length;
  out.u32(0).u32(payload.length).u8(RecordType.full).u32(0).bytes(payload);
  const end = start + recordHeaderBytes + payload.length;
  const written = out.peek();
  // The header checksum covers length and type; it is patched in first, because the record
  // checksum covers everything after itself, the header checksum included.
  const headerCrc = crc32c(written.subarray(start + lengthOffset, start + headerCrcOffset));
  out.patchU32(start + headerCrcOffset, maskCrc(headerCrc));
  const crc = crc32c(written.subarray(start + lengthOffset, end));
  out.patchU32(start + crcOffset, maskCrc(crc));
}

/** The framed bytes of one record. */
export function encodeRecordBytes(payload: Uint8Array): Uint8Array {
  checkPayload(payload);
  const out = new ByteWriter(recordBytes(payload.length));
  encodeRecord(out, payload);
  return out.finish();
}

export interface LogWriterOptions {
  /**
   * Open the file with O_DSYNC (env OpenOptions.dsync): each append is durable when it
   * resolves, so a log that syncs after every write (a WAL in sync-always mode) makes one trip
   * to the disk instead of two, and sync() returns at once.
   */
  readonly dsync?: boolean;
}

export class LogWriter {
  private sizeBytes: number;
  private failure: unknown = undefined;
  private closed = false;

  private constructor(
    private readonly file: File,
    sizeBytes: number,
  ) {
    this.sizeBytes = sizeBytes;
  }

  /**
   * Creates the log at `path` (emptying any file already there) and makes its directory entry
   * durable: without that, a crash could lose the whole file, synced records included.
   */
  static async create(
    fs: FileSystem,
    path: string,
    options: LogWriterOptions = {},
  ): Promise<LogWriter> {
    const file = await fs.open(path, {
      create: true,
      truncate: true,
      dsync: options.dsync === true,
    });
    try {
      await fs.syncDir(parentDirectory(path));
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
    return new LogWriter(file, 0);
  }

  /**
   * Opens an existing log to append after its first `validLength` bytes — readLog's
   * `validLength` — cutting off a torn tail first, and fsyncs before returning. The cut must be
   * durable before new records land, or a crash could keep new records with old garbage after
   * them. The fsync also makes durable whatever was read: records replayed from the page cache
   * after a process crash must not vanish in a later power loss once they have been served.
   */
  static async openForAppend(
    fs: FileSystem,
    path: string,
    validLength: number,
    options: LogWriterOptions = {},
  ): Promise<LogWriter> {
    if (!(Number.isSafeInteger(validLength) && validLength >= 0)) {
      throw invalidArgument(`bad log length ${validLength}`, { path, validLength });
    }
    const file = await fs.open(path, { dsync: options.dsync === true });
    try {
      const size = await file.size();
      if (validLength > size) {
        throw invalidArgument(
          `log ${path} has ${size} bytes, fewer than the valid length ${validLength}`,
          { path, validLength, size },
        );
      }
      if (size > validLength) await file.truncate(validLength);
      await file.sync();
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
    return new LogWriter(file, validLength);
  }

  get path(): string {
    return this.file.path;
  }

  /** Bytes in the log, counting appends issued but not yet completed: where the next one goes. */
  get size(): number {
    return this.sizeBytes;
  }

  /** The framed bytes of one record (what append writes for it). */
  encode(payload: Uint8Array): Uint8Array {
    return encodeRecordBytes(payload);
  }

  append(payload: Uint8Array): Promise<void> {
    return this.appendMany([payload]);
  }

  /**
   * Appends several records with one file write. All payloads are checked before anything is
   * written, so an oversized one (INVALID_ARGUMENT) writes none of them. The payloads are
   * framed (copied) before the first await, so the caller may reuse them at once.
   */
  async appendMany(payloads: readonly Uint8Array[]): Promise<void> {
    this.checkUsable('append');
    let total = 0;
    for (const p of payloads) {
      checkPayload(p);
      total += recordBytes(p.length);
    }
    if (payloads.length === 0) return;
    const out = new ByteWriter(total);
    for (const p of payloads) encodeRecord(out, p);
    assert(out.length === total, 'log batch encoded to an unexpected length');
    const expectedAt = this.sizeBytes;
    this.sizeBytes += total;
    try {
      const at = await this.file.append(out.peek());
      assert(at === expectedAt, `log ${this.path}: append landed at ${at}, expected ${expectedAt}`);
    } catch (err) {
      this.failure ??= err;
      throw err;
    }
  }

  /** Makes every record appended before the call durable. */
  async sync(): Promise<void> {
    this.checkUsable('sync');
    try {
      await this.file.sync();
    } catch (err) {
      this.failure ??= err;
      throw err;
    }
  }

  /** Closes the file, also after a failure. Does not sync. Closing twice is a no-op. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.file.close();
  }

  private checkUsable(what: string): void {
    if (this.closed) {
      throw ioError(`cannot ${what}: log is closed: ${this.path}`, { path: this.path });
    }
    if (this.failure !== undefined) throw refusedAfterFailure(this.path, what, this.failure);
  }
}

function refusedAfterFailure(path: string, what: string, cause: unknown): TesseraError {
  return ioError(
    `cannot ${what}: an earlier write or sync of log ${path} failed, so its end is unknown; ` +
      'reopen it and recover',
    { path },
    cause,
  );
}

/** The directory holding `path` ('/' for a file at the root). */
export function parentDirectory(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  return slash <= 0 ? '/' : trimmed.slice(0, slash);
}
