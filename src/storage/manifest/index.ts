/**
 * The manifest: the crash-safe record of which SSTables make up the store, and the version set
 * built from it. Byte layout and recovery rules: docs/formats/manifest.md.
 */
export {
  checkFileMeta,
  currentFileName,
  fileMetaProblem,
  fileNameOf,
  fileNumberMax,
  joinPath,
  levelCount,
  manifestFileName,
  parseFileName,
  tableFileName,
  tempFileName,
  walFileName,
  type FileKind,
  type FileMeta,
  type ParsedFileName,
} from './file-meta.js';
export {
  EditTag,
  decodeVersionEdit,
  emptyEdit,
  encodeVersionEdit,
  versionEditProblem,
  type CompactPointer,
  type DeletedFile,
  type VersionEdit,
} from './version-edit.js';
export {
  Version,
  VersionBuilder,
  compareBySmallest,
  compareLevel0,
  type ViolationHandler,
} from './version.js';
export {
  VersionSet,
  manifestBytesMaxDefault,
  manifestFormatName,
  readCurrent,
  readManifestState,
  type ManifestState,
  type VersionSetOptions,
} from './version-set.js';
