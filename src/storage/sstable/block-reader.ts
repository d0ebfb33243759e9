/**
 * Reads one block from a table file: the contents plus the 5-byte trailer, checked against
 * the trailer's CRC before anything is parsed, then decompressed. Every failure is CORRUPTION
 * naming the file and the block's offset.
 */
import type { File } from '../../env/types.js';
import { crc32c, maskCrc } from '../../util/crc32c.js';
import { blockCorruption } from './block.js';
import { uncompressSnappy } from './compression.js';
import type { BlockHandle } from './footer.js';
import { blockTrailerBytes, CompressionType } from './format.js';

export async function readBlock(
  file: File,
  path: string,
  handle: BlockHandle,
): Promise<Uint8Array> {
  const { offset, size } = handle;
  const raw = await file.read(offset, size + blockTrailerBytes);
  return checkBlock(raw, path, handle);
}

/** Verifies and decompresses a block's bytes (contents + trailer) read at `handle`. */
export function checkBlock(raw: Uint8Array, path: string, handle: BlockHandle): Uint8Array {
  const { offset, size } = handle;
  if (raw.length !== size + blockTrailerBytes) {
    throw blockCorruption(
      path,
      offset,
      `short read (${raw.length} of ${size + blockTrailerBytes} bytes)`,
    );
  }
  const stored =
    (raw[size + 1]! | (raw[size + 2]! << 8) | (raw[size + 3]! << 16) | (raw[size + 4]! << 24)) >>>
    0;
  const actual = maskCrc(crc32c(raw.subarray(0, size + 1)));
  if (stored !== actual) throw blockCorruption(path, offset, 'checksum mismatch');
  const type = raw[size]!;
  const contents = raw.subarray(0, size);
  switch (type) {
    case CompressionType.None:
      // Keep cached blocks from pinning a larger buffer the file layer may have read into.
      return raw.buffer.byteLength > raw.length ? new Uint8Array(contents) : contents;
    case CompressionType.Snappy:
      return uncompressSnappy(contents, path, offset);
    default:
      throw blockCorruption(path, offset, `unknown compression type ${type}`);
  }
}
