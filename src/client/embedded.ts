/**
 * The embedded database: `open(dir)` runs the store in this process, LevelDB-style, with no
 * sockets. The requests go through the same TableDispatcher (validation included) that serves
 * the native protocol's `table.*` methods, so an embedded and a remote database behave alike.
 */
import type { Env } from '../env/types.js';
import {
  Database as ModelDatabase,
  parseConsistency,
  TableDispatcher,
  type ConsistencyLevel,
  type DatabaseOptions,
} from '../model/index.js';
import type { Database } from './table-api.js';
import { TableDatabase } from './table-client.js';

export interface EmbeddedOptions extends Omit<DatabaseOptions, 'dir'> {
  /** Default per-call timeout in milliseconds (default 30 s). */
  readonly timeoutMs?: number;
  /** Default consistency level of reads and writes that name none (TableDatabaseOptions). */
  readonly consistency?: ConsistencyLevel;
}

/**
 * Opens (creating when missing) the database in `dir`, relative to the Env's file-system root.
 * Only one process may have a directory open at a time. close() stops serving requests first,
 * then closes the stores.
 */
export async function openEmbedded(
  env: Env,
  dir: string,
  options: EmbeddedOptions = {},
): Promise<Database> {
  const { timeoutMs, consistency, ...databaseOptions } = options;
  // Checked before the directory is opened, so that a bad level leaves nothing open.
  if (consistency !== undefined) parseConsistency(consistency, 'consistency');
  const database = await ModelDatabase.open(env, { ...databaseOptions, dir });
  const dispatcher = new TableDispatcher(env, database);
  return new TableDatabase(dispatcher, {
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(consistency === undefined ? {} : { consistency }),
    onClose: async () => {
      try {
        await dispatcher.close();
      } finally {
        await database.close();
      }
    },
  });
}
