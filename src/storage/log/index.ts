/**
 * The record log: checksummed, length-prefixed records appended to one file, read back with
 * torn-tail recovery. The framing under the WAL, the manifest and (later) the Raft log; see
 * docs/formats/wal.md.
 */
export {
  RecordType,
  isRecordType,
  recordBytes,
  recordBytesMax,
  recordHeaderBytes,
} from './format.js';
export { LogWriter, encodeRecordBytes, type LogWriterOptions } from './writer.js';
export { parseLog, readLog, type LogReadOptions, type LogReadResult } from './reader.js';
