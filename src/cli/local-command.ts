import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { freeLockPort } from './bench/lock-cluster.js';
import { logEvent } from './log.js';

/** The shape of `<dir>/cluster.json`: what other tools read to find the processes. */
export interface ClusterFile {
  readonly version: 1;
  readonly state: 'running' | 'stopped';
  readonly launcherPid: number;
  readonly dataDir: string;
  readonly processes: readonly ClusterProcess[];
}

export interface ClusterProcess {
  readonly role: 'node' | 'lock';
  readonly name: string;
  readonly address: string;
  readonly pid: number;
  readonly dir: string;
  /** Where the process serves Prometheus metrics (`http://<metrics>/metrics`), when it does. */
  readonly metrics?: string;
  /**
   * `true` for a node of a hashed-table ring (`tessera node --ring`, started by `tessera local
   * --ring N`); absent otherwise. `tessera ring` asks these nodes by default.
   */
  readonly ring?: true;
}

const tesseraBin = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));
const readyTimeoutMs = 15_000;
const restartsPerMinuteMax = 5;
const stopGraceMs = 5_000;
/** Most ring nodes `--ring N` starts: each is a process of ~100 MiB on one machine. */
const ringNodesMax = 32;
/** Replication of the example hashed table printed for a ring (at most the ring's size). */
const exampleReplication = 3;
interface Child {
  readonly role: 'node' | 'lock';
  /** A ring node (`tessera node --ring`). */
  readonly ring: boolean;
  readonly name: string;
  readonly dir: string;
  readonly listen: string;
  /** The command line after `tessera` (lock replicas: the fixed `--id … --peers …`). */
  readonly args: readonly string[];
  proc: ChildProcess;
  address: string;
  /** The metrics address from the ready line (host:port), if the child printed one. */
  metrics: string | undefined;
  restarts: number[];
}

/**
 * `tessera local` — starts an embedded local cluster as real child processes under a data
 * directory, writes `<dir>/cluster.json`, restarts a process that dies, and stops everything on
 * Ctrl-C. The cluster is serving nodes answering the native protocol and (by default) three
 * lock-service replicas (`tessera lock`, role `lock` in cluster.json); the master and tablet
 * servers join it as their issues land.
 *
 * Every child serves Prometheus metrics on the cluster's host at a port it picks (`--metrics
 * HOST:0`: fixed ports would collide with whatever else runs on the machine, and cluster.json
 * says where each one landed); the launcher reads the address from the child's ready line,
 * lists it in cluster.json (`metrics`) and prints the URLs.
 *
 * `--ring N` starts a hashed-table ring instead: N nodes running `tessera node --ring`, and no
 * lock-service replicas (a ring has no master, so nothing needs the lock service). They take
 * the usual names and ports (node1…nodeN from --base-port); node1 starts first and is every
 * node's seed (`--seeds <node1>`; a node drops its own address from the list). cluster.json
 * marks them `ring: true`, and a ring node that dies is restarted like any node, with its
 * directory and address, so it comes back with its tokens and ring id.
 */
export function localCommand(): Command {
  return new Command('local')
    .description('start an embedded local cluster (real child processes) under a data directory')
    .option('--dir <path>', 'data directory', './data')
    .option('--nodes <n>', 'number of serving nodes', (v) => Number(v), 1)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--base-port <port>', 'first node port (0: pick free ports)', (v) => Number(v), 7701)
    .option('--lock-replicas <n>', 'number of lock-service replicas (0: none)', (v) => Number(v), 3)
    .option(
      '--lock-base-port <port>',
      'first lock replica port; Raft uses port + 1000 (0: pick free ports)',
      (v) => Number(v),
      7801,
    )
    .option(
      '--ring <n>',
      'start a hashed-table ring of n nodes (tessera node --ring) and no lock service',
      parseRingNodes,
    )
    .action(async (opts: LocalOptions, cmd: Command) => {
      // A ring sets the node count and needs no lock service: say so rather than ignore them.
      for (const given of ['nodes', 'lockReplicas', 'lockBasePort'] as const) {
        const zero = given === 'lockReplicas' && opts.lockReplicas === 0;
        if (opts.ring !== undefined && cmd.getOptionValueSource(given) === 'cli' && !zero) {
          const flag = given.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
          process.stderr.write(
            `tessera local: --ring N starts N nodes and no lock service; drop --${flag}\n`,
          );
          process.exitCode = 1;
          return;
        }
      }
      process.exitCode = await runLocal(opts);
    });
}

function parseRingNodes(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > ringNodesMax) {
    throw new InvalidArgumentError(`expected an integer in [1, ${ringNodesMax}]`);
  }
  return n;
}

interface LocalOptions {
  dir: string;
  nodes: number;
  host: string;
  basePort: number;
  lockReplicas: number;
  lockBasePort: number;
  /** With `--ring N`: the number of ring nodes, started instead of --nodes and the lock service. */
  ring?: number;
}

async function runLocal(opts: LocalOptions): Promise<number> {
  const dataDir = resolve(opts.dir);
  mkdirSync(dataDir, { recursive: true });
  const clusterPath = join(dataDir, 'cluster.json');
  const running = runningLauncher(clusterPath);
  if (running !== undefined) {
    process.stderr.write(
      `tessera local: a cluster is already running from ${dataDir} (launcher pid ${running}); ` +
        `stop it first (kill -INT ${running})\n`,
    );
    return 1;
  }
  const children: Child[] = [];
  const ring = opts.ring !== undefined;
  /** Every ring node's seed: node1's address, known once node1 is up. */
  let ringSeed: string | undefined;
  let stopping = false;
  /** Restarts still starting: a stop waits for them, or their processes would be left behind. */
  const restarting = new Set<Promise<unknown>>();

  const writeClusterFile = (state: ClusterFile['state']) => {
    const file: ClusterFile = {
      version: 1,
      state,
      launcherPid: process.pid,
      dataDir,
      processes: children.map((c) => ({
        role: c.role,
        name: c.name,
        address: c.address,
        pid: c.proc.pid ?? -1,
        dir: c.dir,
        ...(c.metrics === undefined ? {} : { metrics: c.metrics }),
        ...(c.ring ? { ring: true as const } : {}),
      })),
    };
    const tmp = `${clusterPath}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`);
    renameSync(tmp, clusterPath);
  };

  const supervise = (child: Child) => {
    child.proc.once('exit', (code, signal) => {
      if (stopping) return;
      logEvent('local', 'process-exited', { name: child.name, code, signal });
      const now = Date.now();
      child.restarts = child.restarts.filter((t) => now - t < 60_000);
      if (child.restarts.length >= restartsPerMinuteMax) {
        logEvent('local', 'giving-up', { name: child.name, restartsPerMinuteMax });
        return;
      }
      child.restarts.push(now);
      const args =
        child.role === 'lock'
          ? child.args
          : child.ring
            ? ringNodeArgs(child.name, child.dir, child.address, opts.host, ringSeed)
            : nodeArgs(child.name, child.dir, child.address, opts.host);
      const started = startChild(child.name, args).then(
        ({ proc, address, metrics }) => {
          // Taken over even when the cluster began stopping meanwhile: the stop waits for
          // restarts under way, then stops child.proc — this process.
          child.proc = proc;
          if (stopping) return;
          child.address = address;
          child.metrics = metrics;
          writeClusterFile('running');
          logEvent('local', 'process-restarted', {
            name: child.name,
            pid: proc.pid,
            address,
            metrics,
          });
          supervise(child);
        },
        (err: Error) =>
          logEvent('local', 'restart-failed', { name: child.name, error: err.message }),
      );
      restarting.add(started);
      void started.finally(() => restarting.delete(started));
    });
  };

  try {
    for (let i = 0; i < (opts.ring ?? opts.nodes); i++) {
      const name = `node${i + 1}`;
      const dir = join(dataDir, name);
      const port = opts.basePort === 0 ? 0 : opts.basePort + i;
      const listen = `${opts.host}:${port}`;
      // node1 with a port still to pick cannot name itself; it needs no seed but itself.
      const seed = ringSeed ?? (port === 0 ? undefined : listen);
      const args = ring
        ? ringNodeArgs(name, dir, listen, opts.host, seed)
        : nodeArgs(name, dir, listen, opts.host);
      const started = await startChild(name, args);
      const child: Child = {
        role: 'node',
        ring,
        name,
        dir,
        listen,
        args,
        ...started,
        restarts: [],
      };
      if (ring && i === 0) ringSeed = started.address;
      children.push(child);
      supervise(child);
    }
    // A ring has no master, so nothing needs the lock service.
    const lockReplicas = ring ? 0 : opts.lockReplicas;
    if (!Number.isInteger(lockReplicas) || lockReplicas < 0) {
      throw new Error(`--lock-replicas must be a whole number >= 0, not ${lockReplicas}`);
    }
    // Lock replicas: each peer address is the client port; Raft uses UDP and TCP on port + 1000.
    const lockPorts: number[] = [];
    for (let i = 0; i < lockReplicas; i++) {
      lockPorts.push(
        opts.lockBasePort === 0 ? await freeLockPort(new Set(lockPorts)) : opts.lockBasePort + i,
      );
    }
    const peers = lockPorts.map((p, i) => `${i + 1}=${opts.host}:${p}`).join(',');
    const locks = await Promise.all(
      lockPorts.map(async (port, i) => {
        const name = `lock${i + 1}`;
        const dir = join(dataDir, name);
        const listen = `${opts.host}:${port}`;
        const args = ['lock', '--id', String(i + 1), '--peers', peers, '--dir', dir];
        args.push('--metrics', metricsAddress(opts.host));
        const started = await startChild(name, args).catch((err: Error) => err);
        return { name, dir, listen, args, started };
      }),
    );
    for (const l of locks) {
      if (l.started instanceof Error) continue;
      const child: Child = { role: 'lock', ring: false, ...l, ...l.started, restarts: [] };
      children.push(child);
      supervise(child);
    }
    const failed = locks.find((l) => l.started instanceof Error);
    if (failed) throw failed.started as Error;
  } catch (err) {
    stopping = true;
    await Promise.allSettled([...restarting]);
    await stopAll(children);
    process.stderr.write(`tessera local: ${(err as Error).message}\n`);
    return 1;
  }
  writeClusterFile('running');
  const withMetrics = children.filter((c) => c.metrics !== undefined);
  const firstNode = children.find((c) => c.role === 'node')?.address;
  const lines = [
    ring
      ? `Tessera local ring of ${children.length} nodes is up: hashed tables, no master, no lock service (data in ${dataDir}, listed in ${clusterPath})`
      : `Tessera local cluster is up (data in ${dataDir}, listed in ${clusterPath})`,
    ...children.map(
      (c) => `  ${c.name.padEnd(8)} ${c.role.padEnd(5)} ${c.address.padEnd(21)} pid ${c.proc.pid}`,
    ),
    ...(ring ? ringHelp(firstNode, children.length) : connectHelp(firstNode)),
    ...(withMetrics.length === 0
      ? []
      : [
          'Metrics (Prometheus text format; see docs/observability.md):',
          ...withMetrics.map((c) => `  ${c.name.padEnd(8)} ${metricsUrl(c.metrics!)}`),
        ]),
    'Logs:    JSON lines on stderr (level: TESSERA_LOG_LEVEL=debug|info|warn|error)',
    'Stop:    Ctrl-C',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  await new Promise<void>((done) => {
    const stop = () => {
      if (stopping) return;
      stopping = true;
      process.stdout.write('Stopping the local cluster...\n');
      // A restart under way finishes first (and then stops), so stopAll sees its process.
      Promise.allSettled([...restarting])
        .then(() => stopAll(children))
        .then(done, done);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  writeClusterFile('stopped');
  process.stdout.write('Stopped.\n');
  return 0;
}

/** How to reach the cluster: the shell, a one-off command, and the client library. */
function connectHelp(node: string | undefined): string[] {
  if (node === undefined) return [];
  return [
    `Connect: npx tessera shell --connect ${node}`,
    `         npx tessera exec --connect ${node} "create 'users', 'info'"`,
    `         import { connect } from 'tessera'; const db = await connect('${node}');`,
  ];
}

/** How to see the ring and reach it, with an example hashed table. */
function ringHelp(node: string | undefined, nodes: number): string[] {
  if (node === undefined) return [];
  const create =
    `create 'kv', {NAME => 'f'}, ` +
    `{PLACEMENT => 'hashed', REPLICATION => ${Math.min(exampleReplication, nodes)}}`;
  return [
    `Ring:    npx tessera ring --connect ${node}   (status, load and ownership of each node)`,
    `Connect: npx tessera shell --connect ${node}`,
    `         npx tessera exec --connect ${node} "${create}"`,
    `         import { connect } from 'tessera'; const db = await connect('${node}');`,
  ];
}

/** The pid of a launcher still running from this directory, if any. */
function runningLauncher(clusterPath: string): number | undefined {
  if (!existsSync(clusterPath)) return undefined;
  try {
    const file = JSON.parse(readFileSync(clusterPath, 'utf8')) as ClusterFile;
    if (file.state !== 'running' || file.launcherPid === process.pid) return undefined;
    process.kill(file.launcherPid, 0);
    return file.launcherPid;
  } catch {
    return undefined;
  }
}

function nodeArgs(name: string, dir: string, listen: string, host: string): string[] {
  mkdirSync(dir, { recursive: true });
  return [
    'node',
    '--name',
    name,
    '--dir',
    dir,
    '--listen',
    listen,
    '--metrics',
    metricsAddress(host),
  ];
}

/**
 * A ring node's command line: a node's, with `--ring` and its seed (node1's address; none for
 * node1 while its port is still to be picked, when it is its own seed anyway).
 */
function ringNodeArgs(
  name: string,
  dir: string,
  listen: string,
  host: string,
  seed: string | undefined,
): string[] {
  const args = [...nodeArgs(name, dir, listen, host), '--ring'];
  if (seed !== undefined) args.push('--seeds', seed);
  return args;
}

/** A child's `--metrics`: the cluster's host, a port the child picks. */
function metricsAddress(host: string): string {
  return `${host.includes(':') ? `[${host}]` : host}:0`;
}

function metricsUrl(address: string): string {
  return `http://${address}/metrics`;
}

function startChild(
  name: string,
  args: readonly string[],
): Promise<{ proc: ChildProcess; address: string; metrics: string | undefined }> {
  const proc = spawn(process.execPath, [tesseraBin, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${name} did not become ready within ${readyTimeoutMs} ms`));
    }, readyTimeoutMs);
    const lines = createInterface({ input: proc.stdout! });
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { event?: string; address?: string; metrics?: unknown };
        if (msg.event === 'ready' && msg.address) {
          clearTimeout(timer);
          const metrics = typeof msg.metrics === 'string' ? msg.metrics : undefined;
          resolveStart({ proc, address: msg.address, metrics });
        }
      } catch {
        // Not a control line; the node's logs go to stderr, so ignore stray output.
      }
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before it was ready (code ${code}, signal ${signal})`));
    });
  });
}

async function stopAll(children: readonly Child[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((done) => {
          if (c.proc.exitCode !== null || c.proc.signalCode !== null) return done();
          const kill = setTimeout(() => c.proc.kill('SIGKILL'), stopGraceMs);
          c.proc.once('exit', () => {
            clearTimeout(kill);
            done();
          });
          c.proc.kill('SIGTERM');
        }),
    ),
  );
}
