/**
 * The native RPC service of a Tessera node: `ping` (health and identity), `echo` (the RPC
 * benchmark's payload) and, when the node is given a Database, the `table.*` methods
 * (docs/formats/table-rpc.md).
 */
import type { Address, Env } from '../env/index.js';
import { TableDispatcher, type Database } from '../model/index.js';
import { RpcServer, type RpcServerOptions } from '../wire/index.js';
import { registerTableService } from './table-service.js';

export const PROTOCOL_METHODS = ['ping', 'echo'] as const;

export interface PingReply {
  readonly name: string;
  readonly role: string;
  /** The node's wall clock, microseconds since the epoch. */
  readonly nowMicros: number;
  readonly uptimeMicros: number;
}

export interface NodeServiceOptions {
  readonly name: string;
  readonly role?: string;
  readonly listen: Address;
  readonly rpc?: RpcServerOptions;
  /**
   * The tables to serve. The node does not own it: close() stops the service and releases
   * its scanners, and the caller closes the database afterwards.
   */
  readonly database?: Database;
}

export interface RunningNode {
  readonly address: Address;
  readonly server: RpcServer;
  /** Present when the node serves tables. */
  readonly tables: TableDispatcher | undefined;
  close(): Promise<void>;
}

export async function startNodeService(
  env: Env,
  options: NodeServiceOptions,
): Promise<RunningNode> {
  const startedMicros = env.clock.monoMicros();
  const server = new RpcServer(env, options.rpc);
  server.handle('ping', (): PingReply => ({
    name: options.name,
    role: options.role ?? 'node',
    nowMicros: env.clock.nowMicros(),
    uptimeMicros: env.clock.monoMicros() - startedMicros,
  }));
  server.handle('echo', (args: unknown) => args);
  const tables =
    options.database === undefined
      ? undefined
      : // Replies are encoded at once: a get's values need not be copied out of stored bytes.
        new TableDispatcher(env, options.database, { valueViews: true });
  if (tables !== undefined) registerTableService(server, tables);
  const address = await server.listen(options.listen);
  const close = async (): Promise<void> => {
    try {
      await server.close();
    } finally {
      await tables?.close();
    }
  };
  return { address, server, tables, close };
}
