/**
 * Block handles and the footer, the fixed-size record at the end of a table that locates its
 * index, filter and properties blocks (layout in docs/formats/sstable.md).
 *
 * A reader checks the magic first (is this a table at all, or a truncated/overwritten one?),
 * then the version (can this build read it?), then the footer's checksum, and only then trusts
 * the handles.
 */
import { assert } from '../../util/assert.js';
import { ByteReader, ByteWriter } from '../../util/byte-io.js';
import { crc32c, maskCrc } from '../../util/crc32c.js';
import { corruption, isTesseraError } from '../../util/errors.js';
import {
  blockTrailerBytes,
  footerBytes,
  footerChecksumAt,
  footerMagicAt,
  footerVersionAt,
  formatVersion,
  tableMagic,
  tableMagicBytes,
} from './format.js';

/** Where a block's contents lie; its 5-byte trailer follows, outside `size`. */
export interface BlockHandle {
  readonly offset: number;
  readonly size: number;
}

/** Footer handle sizes are u32. */
const footerBlockBytesMax = 0xffff_ffff;

export interface Footer {
  readonly index: BlockHandle;
  /** Size 0 (and offset 0) when the table has no filter. */
  readonly filter: BlockHandle;
  readonly properties: BlockHandle;
}

export const noBlock: BlockHandle = { offset: 0, size: 0 };

/** A block handle in an index entry: offset varint, size varint. */
export function encodeHandle(w: ByteWriter, h: BlockHandle): void {
  w.varint(h.offset).varint(h.size);
}

export function decodeHandle(r: ByteReader): BlockHandle {
  const offset = r.varint();
  const size = r.varint();
  return { offset, size };
}

export function encodeFooter(f: Footer): Uint8Array {
  const w = new ByteWriter(footerBytes);
  for (const h of [f.index, f.filter, f.properties]) {
    assert(h.size <= footerBlockBytesMax, `meta block of ${h.size} bytes`);
    w.u64(h.offset).u32(h.size);
  }
  w.u32(formatVersion);
  w.u32(maskCrc(crc32c(w.peek())));
  w.bytes(tableMagic);
  const out = w.finish();
  assert(out.length === footerBytes, 'footer size drifted from format.ts');
  return out;
}

/**
 * Decodes the last `footerBytes` of a file of `fileSize` bytes, checking magic, version,
 * checksum and that every handle lies inside the file before the footer.
 */
export function decodeFooter(bytes: Uint8Array, path: string, fileSize: number): Footer {
  const fail = (what: string) => corruption(`${what} in ${path}`, { path, fileSize });
  if (bytes.length !== footerBytes) throw fail(`footer of ${bytes.length} bytes`);
  for (let i = 0; i < tableMagicBytes; i++) {
    if (bytes[footerMagicAt + i] !== tableMagic[i]) throw fail('bad magic number (not a table)');
  }
  const r = new ByteReader(bytes);
  r.pos = footerVersionAt;
  const version = r.u32();
  if (version !== formatVersion) throw fail(`unsupported table format version ${version}`);
  const stored = r.u32();
  if (stored !== maskCrc(crc32c(bytes.subarray(0, footerChecksumAt)))) {
    throw fail('footer checksum mismatch');
  }
  r.pos = 0;
  const metaEnd = fileSize - footerBytes;
  const handle = (name: string): BlockHandle => {
    const at = r.pos;
    let offset: number;
    try {
      offset = r.u64();
    } catch (err) {
      if (isTesseraError(err, 'CORRUPTION')) throw fail(`bad ${name} offset at footer byte ${at}`);
      throw err;
    }
    const size = r.u32();
    if (offset + size + blockTrailerBytes > metaEnd) {
      throw fail(`${name} block [${offset}, +${size}) outside the file`);
    }
    return { offset, size };
  };
  const index = handle('index');
  const filter = handle('filter');
  const properties = handle('properties');
  // An absent filter is written as offset 0, size 0; no other block may be empty.
  if (filter.size === 0 && filter.offset !== 0) throw fail('bad empty filter handle');
  return { index, filter, properties };
}
