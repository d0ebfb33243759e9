/**
 * Public TypeScript clients: routing, redirects, retries and sessions. The lock-service client
 * is `LockClient` (src/client/lock-client.ts; protocol in docs/lock-protocol.md); the table
 * client is `connect` (remote, connect.ts) and `openEmbedded` (in-process, embedded.ts), both
 * returning the Database of table-api.ts (docs/client.md).
 */
export * from './lock-client.js';
export type * from './table-api.js';
export type { ConsistencyLevel } from '../model/index.js';
export {
  parseCell,
  parseColumn,
  TABLE_CALL_TIMEOUT_MS_DEFAULT,
  TableDatabase,
  type ParsedColumn,
  type TableDatabaseOptions,
} from './table-client.js';
export {
  RPC_CALLER_ADDRESSES_MAX,
  RPC_CALLER_ATTEMPTS_MAX_DEFAULT,
  RPC_CALLER_BACKOFF_MAX_MS,
  RPC_CALLER_BACKOFF_MIN_MS,
  RPC_CALLER_CONNECT_TIMEOUT_MS_DEFAULT,
  RPC_CALLER_SCANNERS_MAX,
  RPC_CALLER_TIMEOUT_MS_DEFAULT,
  RpcTableCaller,
  type RpcTableCallerOptions,
} from './rpc-caller.js';
export { connect, type ConnectOptions } from './connect.js';
export { openEmbedded, type EmbeddedOptions } from './embedded.js';
