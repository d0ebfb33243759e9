/**
 * The native RPC service of a Tessera node. For now a node answers `ping` (health and
 * identity) and `echo` (the RPC benchmark's payload); table operations join as the store
 * arrives (see the first-usable-store issue).
 */
import type { Address, Env } from '../env/index.js';
import { RpcServer, type RpcServerOptions } from '../wire/index.js';

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
}

export interface RunningNode {
  readonly address: Address;
  readonly server: RpcServer;
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
  const address = await server.listen(options.listen);
  return { address, server, close: () => server.close() };
}
