/**
 * The data model: table schemas, mutations, read specs, filters and the tablet that applies
 * them to one key range of a table over one storage Store.
 */
export { toBytes, type Bytes } from './bytes.js';
export type { Cell, RowResult } from '../storage/index.js';
export {
  decodeTableSchema,
  encodeTableSchema,
  familyDefaults,
  familyOptionsLookup,
  familyOptionsOf,
  findFamily,
  storeOptionsFor,
  tableSchema,
  type Compression,
  type FamilySchema,
  type FamilySpec,
  type Placement,
  type PlacementSpec,
  type TableSchema,
  type TableSpec,
} from './schema.js';
export {
  checkMutation,
  defaultMutationLimits,
  Mutation,
  mutationBytes,
  toWriteBatch,
  type MutationLimits,
  type MutationOp,
} from './mutation.js';
export {
  prefixEnd,
  readPlan,
  scanPlan,
  scanRange,
  type ColumnSpec,
  type GetSpec,
  type ReadPlan,
  type ScanPlan,
  type ScanSpec,
  type TimeRange,
} from './read-spec.js';
export { applyFilter, compareWith, filterColumns, type CompareOp, type Filter } from './filters.js';
export { TimestampOracle } from './timestamp-oracle.js';
export {
  decodeInt64,
  encodeInt64,
  Tablet,
  type BatchResult,
  type Condition,
  type TabletOptions,
  type WriteResult,
} from './tablet.js';
export {
  Catalog,
  catalogEntryVersion,
  decodeCatalogEntry,
  encodeCatalogEntry,
  type CatalogEntry,
} from './catalog.js';
export {
  Database,
  nodeMemoryBudgetBytesDefault,
  tableDirName,
  tableMemoryBytesMin,
  type DatabaseOptions,
  type TableStoreOptions,
  type TableStoreSample,
} from './database.js';
export { filterDepthMax, filterNodesMax, readColumnsMax } from './table-check.js';
/** The checks every table request passes (for services that answer table requests themselves). */
export * as requestChecks from './table-check.js';
export {
  TableDispatcher,
  wireCells,
  scanBatchBytesMax,
  scanBatchRowsDefault,
  scanBatchRowsMax,
  scannerLeaseMs,
  scannersMax,
} from './table-dispatch.js';
export {
  TABLE_METHODS,
  type TableCaller,
  type TableMethod,
  type TableReply,
  type TableRequest,
  type TableRequests,
  type WireCell,
  type WireCells,
  cellsFromWire,
  type WireCondition,
  type WireGetSpec,
  type WireMutation,
  type WireRow,
  type WireScanSpec,
} from './table-protocol.js';
export {
  CONSISTENCY_DEFAULT,
  CONSISTENCY_LEVELS,
  isConsistencyLevel,
  parseConsistency,
  type ConsistencyLevel,
} from './consistency.js';
export { finishRead, readReplicatedRow } from './replica-read.js';
