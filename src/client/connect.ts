/**
 * `connect`: a Database over the native protocol to one or more Tessera nodes.
 */
import type { Address, Env } from '../env/types.js';
import type { ConsistencyLevel } from '../model/index.js';
import { RpcTableCaller, type RpcTableCallerOptions } from './rpc-caller.js';
import type { Database } from './table-api.js';
import { TableDatabase } from './table-client.js';

export interface ConnectOptions extends RpcTableCallerOptions {
  /** Default consistency level of reads and writes that name none (TableDatabaseOptions). */
  readonly consistency?: ConsistencyLevel;
}

/**
 * Connects to the first of `addresses` (`host:port`) that answers, so that a wrong address
 * fails here, with CONNECTION_REFUSED (or DEADLINE_EXCEEDED when nothing answers in time),
 * rather than at the first call. Later calls reconnect and move between the addresses as
 * rpc-caller.ts describes.
 */
export async function connect(
  env: Env,
  addresses: string | Address | readonly (string | Address)[],
  options: ConnectOptions = {},
): Promise<Database> {
  const list = Array.isArray(addresses)
    ? (addresses as readonly (string | Address)[])
    : [addresses as string | Address];
  const caller = new RpcTableCaller(env, list, options);
  // Built before connecting, so that a bad option fails with nothing opened yet.
  const db = new TableDatabase(caller, {
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.consistency === undefined ? {} : { consistency: options.consistency }),
    onClose: () => caller.close(),
  });
  try {
    await caller.connect();
  } catch (err) {
    await caller.close();
    throw err;
  }
  return db;
}
