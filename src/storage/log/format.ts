/**
 * The record log's on-disk framing: every number of docs/formats/wal.md lives here.
 *
 * One framing serves every append-only file the storage engine keeps (the WAL, the manifest,
 * later the Raft log): a file is a sequence of records, each
 *
 *   offset 0    u32 LE  crc        maskCrc(crc32c(bytes 4 .. 13 + length)): all that follows it
 *   offset 4    u32 LE  length     payload bytes, 0 .. recordBytesMax
 *   offset 8    u8      type       RecordType
 *   offset 9    u32 LE  headerCrc  maskCrc(crc32c(bytes 4 .. 9)): length and type
 *   offset 13   length  payload
 *
 * with no file header, padding or blocks, so appending is writing bytes at the end and nothing
 * else. Two checksums, because a length must be trusted before the payload is read: `headerCrc`
 * proves `length` and `type` on their own, so a damaged length is caught even when it reaches
 * past the end of the file (where `crc` cannot be checked, the bytes it covers being missing),
 * and the reader never mistakes such damage in the middle of a log for a torn tail. `crc` covers
 * the whole record after itself, header fields included, so a record is also checked as a unit.
 */

/** Byte offsets of the header fields within a record. */
export const crcOffset = 0;
export const lengthOffset = 4;
export const typeOffset = 8;
export const headerCrcOffset = 9;

/** Header bytes before the payload. */
export const recordHeaderBytes = 13;

/**
 * Largest payload of one record (64 MiB). Larger appends are INVALID_ARGUMENT; a stored length
 * above it is CORRUPTION, since no writer produces one. The bound keeps a damaged length from
 * asking the reader for gigabytes.
 */
export const recordBytesMax = 64 * 1024 * 1024;

/**
 * Record type tags. Frozen: a tag once shipped never changes meaning and is never reused, and
 * readers refuse tags they do not know (CORRUPTION) rather than skip them, because a skipped
 * record is lost data. 0 is never valid, so zero-filled disk never parses as a record.
 * 2 .. 255 are unassigned (room for, say, fragments of records over recordBytesMax, or padding).
 */
export const RecordType = {
  /** A whole record: the payload is one complete entry. */
  full: 1,
} as const;

export type RecordType = (typeof RecordType)[keyof typeof RecordType];

export function isRecordType(tag: number): tag is RecordType {
  return tag === RecordType.full;
}

/** Bytes a payload of `payloadBytes` occupies in the file, header included. */
export function recordBytes(payloadBytes: number): number {
  return recordHeaderBytes + payloadBytes;
}
