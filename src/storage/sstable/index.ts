/**
 * SSTables: immutable sorted files of (key, value) entries with a bloom filter and an index,
 * read through the block cache. Format: docs/formats/sstable.md.
 */
export { TableBuilder, type TableInfo, writeBufferBytes } from './table-builder.js';
export { TableReader, type TableReaderOptions } from './table-reader.js';
export { Block } from './block.js';
export type { TableIteratorOptions } from './table-iterator.js';
export type { TableProperties } from './properties.js';
export {
  blockBytesDefault,
  bloomBitsPerKeyDefault,
  compressionDefault,
  restartIntervalDefault,
  type TableOptions,
} from './options.js';
export { type Compression, formatVersion } from './format.js';
