/** The memtable: sorted in-memory map of internal keys, frozen and flushed when full. */
export { Memtable, type MemtableEntry } from './memtable.js';
export { MemtableIterator } from './iterator.js';
export { skiplistEntryBytesMax as memtableEntryBytesMax, type HeightRandom } from './skiplist.js';
