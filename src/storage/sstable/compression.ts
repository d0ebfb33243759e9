/**
 * Block compression. Snappy (pure JavaScript) trades a little CPU for less disk and cache
 * traffic; as in LevelDB a block keeps its compressed form only when that saves at least 1/8,
 * since decompressing on every cache miss costs more than a few percent of bytes save.
 */
import snappy from 'snappyjs';
import { corruption } from '../../util/errors.js';
import { blockUncompressedBytesMax, CompressionType } from './format.js';

/** A compressed block is kept only when it is at most 7/8 of the raw size. */
const minSavingsDivisor = 8;
/**
 * Snappy's densest element (a 3-byte copy of 64 bytes) expands about 21x, so a stream that
 * claims more than this many times its size is corrupt, whatever its checksum says.
 */
const snappyExpansionMax = 32;

/**
 * The bytes to store for `raw` and their type byte: the compressed form when `type` is Snappy
 * and compression pays, else `raw` itself.
 */
export function compressBlock(
  raw: Uint8Array,
  type: CompressionType,
): { readonly bytes: Uint8Array; readonly type: CompressionType } {
  if (type === CompressionType.Snappy) {
    const compressed = snappy.compress(raw);
    if (compressed.length < raw.length - raw.length / minSavingsDivisor) {
      return { bytes: compressed, type: CompressionType.Snappy };
    }
  }
  return { bytes: raw, type: CompressionType.None };
}

/** The declared uncompressed length at the start of a Snappy stream, or -1 if malformed. */
function snappyLength(b: Uint8Array): number {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 5 && i < b.length; i++) {
    const c = b[i]!;
    result += (c & 0x7f) * mul;
    if (c < 0x80) return result;
    mul *= 0x80;
  }
  return -1;
}

/**
 * Decompresses a Snappy block that already passed its checksum. The checks here only matter
 * for a checksum collision or a writer bug, but they keep garbage from allocating wildly or
 * surfacing as a foreign error: failures are CORRUPTION naming the block.
 */
export function uncompressSnappy(data: Uint8Array, path: string, offset: number): Uint8Array {
  const length = snappyLength(data);
  if (
    length < 0 ||
    length > blockUncompressedBytesMax ||
    length > data.length * snappyExpansionMax
  ) {
    throw corruption(`bad snappy length in block at offset ${offset} of ${path}`, {
      path,
      offset,
    });
  }
  try {
    return snappy.uncompress(data, blockUncompressedBytesMax);
  } catch (err) {
    throw corruption(
      `snappy block at offset ${offset} of ${path} does not decompress: ${String(err)}`,
      { path, offset },
    );
  }
}
