import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { formatAddress, parseAddress, type Address } from '../env/index.js';
import { realEnv } from '../env/real/index.js';
import { LockReplica, registerLockService, type LockPeer } from '../lock/index.js';
import { raftAddressFor } from '../lock/replica.js';
import { invalidArgument } from '../util/errors.js';
import { RpcServer } from '../wire/index.js';
import { logEvent, logger } from './log.js';
import { createRegistry, raftMetrics, rpcMetrics, startMetricsServer } from './metrics.js';

interface LockOptions {
  id: string;
  peers: string;
  listen?: string;
  dir: string;
  metrics?: string;
}

/**
 * Parses `1=127.0.0.1:7801,2=127.0.0.1:7802,…` into lock-service peers. Each address is the
 * replica's client (RPC, TCP) address; its Raft messages (UDP datagrams, TCP for large ones)
 * use the same host at `raftAddressFor` (port + 1000, or − 1000 above 64535).
 */
export function parseLockPeers(spec: string): LockPeer[] {
  const peers: LockPeer[] = [];
  for (const part of spec.split(',')) {
    const m = /^\s*(\d+)\s*=\s*(\S+)\s*$/.exec(part);
    if (!m) throw invalidArgument(`bad peer '${part}': expected ID=HOST:PORT`);
    const id = Number(m[1]);
    const client: Address = parseAddress(m[2]!);
    if (id < 1 || client.port === 0) throw invalidArgument(`bad peer '${part}'`);
    if (peers.some((p) => p.id === id)) throw invalidArgument(`peer ${id} listed twice`);
    peers.push({ id, client, raft: raftAddressFor(client) });
  }
  return peers;
}

/**
 * `tessera lock --id N --peers 1=HOST:PORT,… [--listen HOST:PORT] --dir DIR` — one lock-service
 * replica as a real process: serves the `lock.*` methods (docs/lock-protocol.md) on `--listen`
 * (default: its own peer address) and speaks Raft (UDP, and TCP for large messages) on its peer
 * address's port + 1000.
 * It serves Prometheus metrics (RPC requests and latency, Raft term, commit and applied index,
 * leader; docs/observability.md) at http://`--metrics`/metrics (default: the --listen host, a
 * free port). On start it prints
 * `{"event":"ready","id":…,"address":"…","raft":"…","metrics":"…","pid":…}` on stdout; it stops
 * cleanly on SIGTERM or SIGINT.
 */
export function lockCommand(): Command {
  return new Command('lock')
    .description('run one lock-service replica (Raft on port + 1000, lock.* RPC methods over TCP)')
    .requiredOption('--id <n>', 'this replica id (one of the ids in --peers)')
    .requiredOption(
      '--peers <list>',
      'every replica as ID=HOST:PORT, comma-separated (Raft uses UDP and TCP on PORT + 1000)',
    )
    .option('--listen <address>', 'client address to listen on (default: own peer address)')
    .option('--dir <path>', 'data directory', './data/lock')
    .option(
      '--metrics <address>',
      'HOST:PORT serving Prometheus metrics at /metrics (default: the --listen host, port 0 = pick)',
    )
    .action(async (opts: LockOptions) => {
      const id = Number(opts.id);
      const peers = parseLockPeers(opts.peers);
      const self = peers.find((p) => p.id === id);
      if (!Number.isInteger(id) || self === undefined) {
        throw invalidArgument(`--id ${opts.id} is not one of the ids in --peers`);
      }
      const name = `lock${id}`;
      const dir = resolve(opts.dir);
      mkdirSync(dir, { recursive: true });
      const env = realEnv({ name, root: dir });
      const replica = await LockReplica.start({
        env,
        id,
        peers,
        dir: 'raft',
        // Crash-only: a replica whose log write, fsync or apply failed cannot go on, and its
        // durable log is all a restart needs. It says why and exits (tessera local restarts it).
        onFailure: (err) => {
          logger(name).fatal({ event: 'failed', err }, 'raft node failed; exiting');
          process.exitCode = 1;
          setImmediate(() => process.exit(1));
        },
      });
      const registry = createRegistry(name);
      let serving = true;
      raftMetrics(registry, () => (serving ? replica.status() : undefined));
      const server = new RpcServer(env, { observer: rpcMetrics(registry) });
      registerLockService(server, replica);
      const listen = opts.listen ? parseAddress(opts.listen) : self.client!;
      const bound = await server.listen(listen);
      const metricsAt = opts.metrics ? parseAddress(opts.metrics) : { host: listen.host, port: 0 };
      const metricsServer = await startMetricsServer(registry, metricsAt.host, metricsAt.port);
      const address = formatAddress(bound);
      const raft = formatAddress(self.raft);
      const metrics = metricsServer.address;
      process.stdout.write(
        `${JSON.stringify({ event: 'ready', id, address, raft, metrics, pid: process.pid })}\n`,
      );
      logEvent(name, 'ready', { address, raft, metrics, dir });
      await new Promise<void>((done) => {
        const stop = (signal: string) => {
          logEvent(name, 'stopping', { signal });
          server
            .close()
            .then(() => {
              serving = false;
              return replica.stop();
            })
            .then(() => metricsServer.close())
            .then(done, done);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      logEvent(name, 'stopped');
    });
}
