/**
 * Reads a record log back, deciding for each problem whether it is a torn tail or corruption.
 *
 * The rule rests on the Env's durability contract: a crash keeps any prefix of a file's
 * unsynced appends and may tear the last one kept, so crash damage is only ever at the end of
 * the file. Damage the reader can prove is followed by more data did not come from a crash;
 * skipping it would silently drop records written after it (perhaps acknowledged ones), so it
 * is CORRUPTION. File systems that grow a file's size before its data lands add one more crash
 * shape, a tail of zeros, which the rules treat like the end of the file.
 *
 * The header checksum (format.ts) is what makes the decision sound: a length is trusted only
 * once the header checksum vouches for it, so a damaged length cannot pass itself off as a
 * payload cut short by a tear. At each record, in order:
 *
 * 1. Fewer than recordHeaderBytes left: torn tail (a header cut short).
 * 2. Header checksum mismatch: torn tail when the header's last byte and everything after it
 *    are zero (a header cut short by a zero-filled tail; a zero-filled tail starting at the
 *    record is the same case); otherwise CORRUPTION. A tear keeps a prefix of what was written,
 *    so a complete header is never garbage from a crash.
 * 3. Unknown type, or a length above recordBytesMax (with a good header checksum): CORRUPTION.
 *    No writer produces either.
 * 4. A payload that runs past the end of the file: torn tail.
 * 5. Record checksum mismatch: torn tail when the record ends exactly at EOF or only zero bytes
 *    follow it (a last write whose payload did not all land); otherwise CORRUPTION.
 *
 * A torn tail stops cleanly: `validLength` is where the bad record starts. CORRUPTION is a
 * TesseraError naming the file and offset, details `{ path, offset }`. Every valid record holds
 * a nonzero byte (its type), so damage anywhere in a record that is followed by another is
 * CORRUPTION: no bit flip in the middle of a log can hide the records after it.
 */
import { crc32c, unmaskCrc } from '../../util/crc32c.js';
import { corruption, type TesseraError } from '../../util/errors.js';
import type { FileSystem } from '../../env/types.js';
import {
  crcOffset,
  headerCrcOffset,
  isRecordType,
  lengthOffset,
  recordBytesMax,
  recordHeaderBytes,
  typeOffset,
} from './format.js';

export interface LogReadResult {
  /** Payloads in file order: views into one buffer of the whole file; a kept view pins it all. */
  readonly records: Uint8Array[];
  /** Bytes of whole, valid records from the start: where the next append must go. */
  readonly validLength: number;
  /** True when bytes after `validLength` were dropped as a torn tail. */
  readonly tornTail: boolean;
}

export interface LogReadOptions {
  /**
   * Rule 5 without its tail exception: a complete record with a bad checksum is CORRUPTION even
   * at the end of the file. For logs whose last record had effects once it was synced — the
   * manifest: the store deletes files an edit made obsolete only after the edit is fsynced, so
   * dropping a damaged last edit as "torn" would silently lose the data it points to. A crash
   * tears by cutting a write short (rule 4), which stays a clean end in either mode.
   */
  readonly strictTail?: boolean;
}

/** Reads and parses the whole log at `path`. NOT_FOUND when it does not exist. */
export async function readLog(
  fs: FileSystem,
  path: string,
  options?: LogReadOptions,
): Promise<LogReadResult> {
  return parseLog(await fs.readFile(path), path, options);
}

/**
 * Parses a whole log image. Pure, so fuzz tests can feed it anything: it returns, or throws a
 * CORRUPTION TesseraError, in time linear in `bytes.length`.
 */
export function parseLog(bytes: Uint8Array, path: string, options?: LogReadOptions): LogReadResult {
  const strictTail = options?.strictTail === true;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  const records: Uint8Array[] = [];
  const torn = (offset: number): LogReadResult => ({
    records,
    validLength: offset,
    tornTail: true,
  });
  let offset = 0;
  while (offset < end) {
    if (end - offset < recordHeaderBytes) return torn(offset);
    const storedHeaderCrc = view.getUint32(offset + headerCrcOffset, true);
    const headerCrc = crc32c(bytes.subarray(offset + lengthOffset, offset + headerCrcOffset));
    if (headerCrc !== unmaskCrc(storedHeaderCrc)) {
      // A header cut short by a zero-filled tail ends in zeros, with only zeros after it.
      if (zeroFrom(bytes, offset + recordHeaderBytes - 1)) return torn(offset);
      throw corrupt(path, offset, 'header checksum mismatch');
    }
    const length = view.getUint32(offset + lengthOffset, true);
    const type = bytes[offset + typeOffset]!;
    if (!isRecordType(type)) throw corrupt(path, offset, `unknown record type ${type}`);
    if (length > recordBytesMax) {
      throw corrupt(path, offset, `length ${length} exceeds the maximum of ${recordBytesMax}`);
    }
    const recordEnd = offset + recordHeaderBytes + length;
    if (recordEnd > end) return torn(offset);
    const storedCrc = view.getUint32(offset + crcOffset, true);
    if (crc32c(bytes.subarray(offset + lengthOffset, recordEnd)) !== unmaskCrc(storedCrc)) {
      // Followed by nothing, or by nothing but zeros, the record is the last one written: a tear.
      if (!strictTail && zeroFrom(bytes, recordEnd)) return torn(offset);
      throw corrupt(path, offset, 'checksum mismatch');
    }
    records.push(bytes.subarray(offset + recordHeaderBytes, recordEnd));
    offset = recordEnd;
  }
  return { records, validLength: offset, tornTail: false };
}

function zeroFrom(bytes: Uint8Array, offset: number): boolean {
  for (let i = offset; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

function corrupt(path: string, offset: number, reason: string): TesseraError {
  return corruption(`corrupt log record in ${path} at offset ${offset}: ${reason}`, {
    path,
    offset,
  });
}
