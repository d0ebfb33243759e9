/**
 * The native RPC service of a Tessera node: `ping` (health and identity), `echo` (the RPC
 * benchmark's payload) and, when the node is given a Database, the `table.*` methods
 * (docs/formats/table-rpc.md).
 */
import type { Address, Env } from '../env/index.js';
import { formatAddress } from '../env/index.js';
import { TableDispatcher, type Database, type TableCaller } from '../model/index.js';
import { RingNode, type RingNodeOptions } from '../ring/index.js';
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
  /**
   * Makes the node a member of a hashed-table ring (needs `database`): its RPC address, as it
   * listens, is its id on the ring, so listen on an address peers can reach.
   */
  readonly ring?: Omit<RingNodeOptions, 'database' | 'address'>;
}

export interface RunningNode {
  readonly address: Address;
  readonly server: RpcServer;
  /** Present when the node serves tables. */
  readonly tables: TableDispatcher | undefined;
  /** Present when the node is a ring member. */
  readonly ring: RingNode | undefined;
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
  if (tables !== undefined && options.ring === undefined) registerTableService(server, tables);
  const address = await server.listen(options.listen);
  let ring: RingNode | undefined;
  if (options.ring !== undefined) {
    if (options.database === undefined || tables === undefined) {
      await server.close();
      throw new Error('a ring node needs a database');
    }
    try {
      ring = await RingNode.start(env, {
        ...options.ring,
        database: options.database,
        address: formatAddress(address),
      });
    } catch (err) {
      await server.close().catch(() => undefined);
      throw err;
    }
    ring.register(server);
    // Registered once the ring is up: until then table calls are UNKNOWN_METHOD, and the node
    // has not said it is ready.
    registerTableService(server, ring.tables(tables) satisfies TableCaller);
  }
  const close = async (): Promise<void> => {
    try {
      await ring?.close();
      await server.close();
    } finally {
      await tables?.close();
    }
  };
  return { address, server, tables, ring, close };
}
