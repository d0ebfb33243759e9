/**
 * Tessera, the package: what `import { connect, open } from 'tessera'` gives.
 *
 * - `connect(addresses)` — a Database on a running Tessera node (`tessera local`, `tessera
 *   node`), over the native protocol.
 * - `open(dir)` — a Database in this process, stored in `dir`, with no server (LevelDB-style).
 *
 * Both return the same Database / Table API (docs/client.md). This is the one module that
 * supplies the real Env (Node's clock, timers, files and sockets); everything below it takes
 * an Env, so tests and the simulator run the same code on a simulated one.
 */
import { connect as connectWith, type ConnectOptions } from './client/connect.js';
import { openEmbedded, type EmbeddedOptions } from './client/embedded.js';
import type { Database } from './client/table-api.js';
import type { Address } from './env/types.js';
import { realEnv } from './env/real/index.js';

export interface TesseraConnectOptions extends ConnectOptions {
  /** Name of this client in logs and traces (default `pid-<pid>`). */
  readonly name?: string;
}

export interface TesseraOpenOptions extends EmbeddedOptions {
  /** Name of this process in logs and traces (default `pid-<pid>`). */
  readonly name?: string;
}

/**
 * Connects to a Tessera node: `connect('127.0.0.1:7070')`, or several addresses to fail over
 * between. Rejects with CONNECTION_REFUSED when none of them answers.
 */
export function connect(
  addresses: string | Address | readonly (string | Address)[],
  options: TesseraConnectOptions = {},
): Promise<Database> {
  const { name, ...rest } = options;
  // A remote client touches no files; the root only has to be a valid path.
  const env = realEnv({ root: '.', ...(name === undefined ? {} : { name }) });
  return connectWith(env, addresses, rest);
}

/**
 * Opens the database stored in directory `dir` (created when missing) inside this process.
 * Close it with `db.close()` before another process opens the same directory.
 */
export function open(dir: string, options: TesseraOpenOptions = {}): Promise<Database> {
  const { name, ...rest } = options;
  const env = realEnv({ root: dir, ...(name === undefined ? {} : { name }) });
  // The Env's file system is rooted at `dir`, so the database lives at its root.
  return openEmbedded(env, '/', rest);
}

export type {
  BatchOutcome,
  CallOptions,
  CheckCondition,
  ColumnName,
  ColumnRef,
  Database,
  DeleteOptions,
  GetOptions,
  PutOptions,
  ResultCell,
  Row,
  ScanOptions,
  Table,
} from './client/table-api.js';
export type { ConnectOptions } from './client/connect.js';
export type { EmbeddedOptions } from './client/embedded.js';
export type { Address } from './env/types.js';
export {
  CONSISTENCY_LEVELS,
  decodeInt64,
  encodeInt64,
  Mutation,
  type ConsistencyLevel,
  type Bytes,
  type CompareOp,
  type Compression,
  type FamilySchema,
  type FamilySpec,
  type Filter,
  type MutationOp,
  type Placement,
  type PlacementSpec,
  type TableSchema,
  type TableSpec,
} from './model/index.js';
export {
  ERROR_CODES,
  isTesseraError,
  TesseraError,
  type ErrorCode,
  type ErrorDetails,
} from './util/errors.js';
