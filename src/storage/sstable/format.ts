/**
 * Every number of the SSTable file format (docs/formats/sstable.md) in one place.
 *
 * A table file is, in order: data blocks, the filter block, the index block, the properties
 * block and a fixed-size footer. Every block is followed by a 5-byte trailer (compression type,
 * masked CRC-32C) so that any byte of the file is covered by a checksum; the footer carries its
 * own checksum.
 */

/** The format this build writes, and the only one it reads. */
export const formatVersion = 1;

/**
 * The last 8 bytes of every table: ASCII "TSRA-SST", which is the u64 0x5453_532D_4152_5354
 * stored little-endian. Kept as bytes because it exceeds the 2^53 the byte codec handles.
 */
export const tableMagic: Readonly<Uint8Array> = Uint8Array.of(
  0x54,
  0x53,
  0x52,
  0x41,
  0x2d,
  0x53,
  0x53,
  0x54,
);
export const tableMagicBytes = 8;

/**
 * Footer: three fixed-width block handles (offset u64, size u32), version u32, checksum u32,
 * magic. Fixed width so that a reader finds it at `fileSize - footerBytes` with one read.
 */
export const footerHandleBytes = 12;
export const footerVersionAt = 3 * footerHandleBytes; // 36
export const footerChecksumAt = footerVersionAt + 4; // 40
export const footerMagicAt = footerChecksumAt + 4; // 44
export const footerBytes = footerMagicAt + tableMagicBytes; // 52

/** Block trailer: compression type (1 byte) + masked CRC-32C of contents and type (4 bytes). */
export const blockTrailerBytes = 5;

/** Compression type byte of a block. Persisted: values are frozen. */
export const CompressionType = {
  None: 0,
  Snappy: 1,
} as const;
export type CompressionType = (typeof CompressionType)[keyof typeof CompressionType];

export type Compression = 'none' | 'snappy';

export const compressionTypes: Readonly<Record<Compression, CompressionType>> = {
  none: CompressionType.None,
  snappy: CompressionType.Snappy,
};

/** Bytes at the end of a data or index block: the restart count (u32). */
export const restartCountBytes = 4;
/** Bytes per restart offset (u32). */
export const restartEntryBytes = 4;

/**
 * Index blocks restart at every entry, so a reader can binary-search them without a linear
 * scan and load their keys as views.
 */
export const indexRestartInterval = 1;

/** Seed of the bloom filter hash (murmur3 x86_32). Persisted: part of the filter format. */
export const bloomHashSeed = 0xbc9f1d34;
/** Filters probe at most this many bits per key; larger k bytes are rejected as corrupt. */
export const bloomProbesMax = 30;

/** Decompressed blocks larger than this are refused (a corrupt length must not allocate GiBs). */
export const blockUncompressedBytesMax = 1 << 30;
