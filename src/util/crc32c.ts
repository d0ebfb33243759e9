/**
 * CRC-32C (Castagnoli), the checksum of every persisted record, plus LevelDB's masking.
 *
 * Castagnoli rather than the zlib CRC-32 because it detects more error patterns at the lengths
 * we store and is the checksum LevelDB, RocksDB and ext4 chose (hardware has an instruction for
 * it, should we ever move to a native implementation).
 */
// crc-32 is CommonJS: Node's ESM loader exposes only its module.exports as the default export
// (named imports would be undefined at run time), so it is imported whole.
import CRC32C from 'crc-32/crc32c.js';

/**
 * CRC-32C of `data` as an unsigned 32-bit integer. `seed` continues a checksum over data that
 * arrives in pieces: crc32c(b, crc32c(a)) === crc32c(a ++ b).
 */
export function crc32c(data: Uint8Array, seed?: number): number {
  // The library works in signed int32 and takes a signed seed; `| 0` maps an unsigned seed back.
  return CRC32C.buf(data, seed === undefined ? undefined : seed | 0) >>> 0;
}

const maskDelta = 0xa282ead8;

/**
 * Masks a CRC before storing it. A CRC computed over bytes that themselves contain CRCs (a log
 * record carrying another log's record, a WAL entry embedding an SSTable block) is weak, because
 * CRCs of CRC-bearing data are correlated; rotating and adding a constant breaks that. The
 * LevelDB formula, kept bit for bit: it is part of every on-disk format that stores a CRC.
 */
export function maskCrc(crc: number): number {
  return (((crc >>> 15) | (crc << 17)) + maskDelta) >>> 0;
}

/** The inverse of maskCrc. */
export function unmaskCrc(masked: number): number {
  const rot = (masked - maskDelta) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}
