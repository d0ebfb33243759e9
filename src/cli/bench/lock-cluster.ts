/**
 * A throw-away lock-service cluster of real `tessera lock` processes on loopback, for the lock
 * benchmark and the lock kill test. Each replica listens for clients (TCP) on its port and for
 * Raft (UDP and TCP) on `raftAddressFor` that port, so a port is only taken when all are free.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { raftAddressFor } from '../../lock/replica.js';

const tesseraBin = fileURLToPath(new URL('../../../bin/tessera.js', import.meta.url));
const readyTimeoutMs = 15_000;
const stopGraceMs = 5_000;

function tryTcp(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, '127.0.0.1', () => {
      const got = (srv.address() as { port: number }).port;
      srv.close(() => resolve(got));
    });
  });
}

function tryUdp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    sock.once('error', () => {
      sock.close();
      resolve(false);
    });
    sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
  });
}

/** A loopback port free for both TCP and UDP right now (another process may still take it). */
export async function freeTcpUdpPort(avoid: ReadonlySet<number> = new Set()): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = await tryTcp(0);
    if (port === undefined || avoid.has(port)) continue;
    if (await tryUdp(port)) return port;
  }
  throw new Error('no loopback port free for both TCP and UDP');
}

const raftPortOf = (port: number): number => raftAddressFor({ host: '127.0.0.1', port }).port;

/**
 * A loopback port for a lock replica: free for TCP right now, and its Raft port
 * (`raftAddressFor`) for TCP and UDP; neither clashes with the ports (or Raft ports) of replicas in `avoid`.
 */
export async function freeLockPort(avoid: ReadonlySet<number> = new Set()): Promise<number> {
  const used = new Set([...avoid, ...[...avoid].map(raftPortOf)]);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = await tryTcp(0);
    if (port === undefined || used.has(port) || used.has(raftPortOf(port))) continue;
    const raft = raftPortOf(port);
    if ((await tryTcp(raft)) !== undefined && (await tryUdp(raft))) return port;
  }
  throw new Error('no loopback port free for a lock replica and its Raft port');
}

export interface LockReplicaProcess {
  readonly id: number;
  readonly address: string;
  readonly dir: string;
  proc: ChildProcess | undefined;
  /** Everything the replica wrote on stderr (its log), for failure messages. */
  stderr: string;
}

export interface LockCluster {
  readonly replicas: readonly LockReplicaProcess[];
  /** The `--peers` value every replica was given. */
  readonly peers: string;
  readonly root: string;
  /** SIGKILLs one replica and waits for it to exit. */
  kill(id: number): Promise<void>;
  /** Starts a stopped (or killed) replica again on the same address and directory. */
  restart(id: number): Promise<void>;
  /** Stops every replica (SIGTERM, SIGKILL after a grace period) and removes the directory. */
  stop(options?: { keep?: boolean }): Promise<void>;
}

/** Spawns `tessera lock` with the given arguments and waits for its `ready` line. */
export function spawnLockReplica(
  id: number,
  peers: string,
  dir: string,
  onStderr?: (chunk: string) => void,
  stdio: 'pipe' | 'inherit' = 'pipe',
): Promise<{ proc: ChildProcess; address: string }> {
  // TESSERA_CHILD_NODE_ARGS: extra node flags for the replicas, e.g. "--cpu-prof" to profile.
  const nodeArgs = process.env.TESSERA_CHILD_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const proc = spawn(
    process.execPath,
    [...nodeArgs, tesseraBin, 'lock', '--id', String(id), '--peers', peers, '--dir', dir],
    { stdio: ['ignore', 'pipe', stdio] },
  );
  if (stdio === 'pipe') {
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (chunk: string) => onStderr?.(chunk));
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`lock replica ${id} did not become ready within ${readyTimeoutMs} ms`));
    }, readyTimeoutMs);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { event?: string; address?: string };
        if (msg.event === 'ready' && msg.address) {
          clearTimeout(timer);
          resolve({ proc, address: msg.address });
        }
      } catch {
        // not a control line
      }
    });
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`lock replica ${id} exited before ready (code ${code}, signal ${signal})`));
    });
  });
}

function exited(proc: ChildProcess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null;
}

function stopProc(proc: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  return new Promise((done) => {
    if (!proc || exited(proc)) return done();
    const kill = setTimeout(() => proc.kill('SIGKILL'), stopGraceMs);
    proc.once('exit', () => {
      clearTimeout(kill);
      done();
    });
    proc.kill(signal);
  });
}

/**
 * Starts `size` replicas on free loopback ports under a new temporary directory. If a replica
 * cannot start (typically: a port was taken between picking and binding), everything is stopped
 * and the cluster is tried again on fresh ports, a few times.
 */
export async function startLockCluster(size = 3, attempts = 4): Promise<LockCluster> {
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const root = mkdtempSync(join(tmpdir(), 'tessera-lock-'));
    const ports: number[] = [];
    const taken = new Set<number>();
    for (let i = 0; i < size; i++) {
      const port = await freeLockPort(taken);
      taken.add(port);
      ports.push(port);
    }
    const peers = ports.map((p, i) => `${i + 1}=127.0.0.1:${p}`).join(',');
    const replicas: LockReplicaProcess[] = ports.map((p, i) => ({
      id: i + 1,
      address: `127.0.0.1:${p}`,
      dir: join(root, `lock${i + 1}`),
      proc: undefined,
      stderr: '',
    }));
    const launch = async (r: LockReplicaProcess) => {
      const { proc } = await spawnLockReplica(r.id, peers, r.dir, (chunk) => {
        r.stderr = (r.stderr + chunk).slice(-20_000);
      });
      r.proc = proc;
    };
    const cluster: LockCluster = {
      replicas,
      peers,
      root,
      async kill(id) {
        const r = replicas[id - 1]!;
        const proc = r.proc;
        if (!proc || exited(proc)) return;
        await new Promise<void>((done) => {
          proc.once('exit', () => done());
          proc.kill('SIGKILL');
        });
      },
      async restart(id) {
        const r = replicas[id - 1]!;
        if (r.proc && !exited(r.proc)) throw new Error(`lock replica ${id} is still running`);
        await launch(r);
      },
      async stop(options) {
        await Promise.all(replicas.map((r) => stopProc(r.proc, 'SIGTERM')));
        if (!options?.keep) rmSync(root, { recursive: true, force: true });
      },
    };
    const started = await Promise.allSettled(replicas.map(launch));
    const failed = started.find((s) => s.status === 'rejected');
    if (!failed) return cluster;
    lastError = failed.reason;
    await Promise.all(replicas.map((r) => stopProc(r.proc, 'SIGKILL')));
    rmSync(root, { recursive: true, force: true });
  }
  throw new Error(`could not start a lock cluster: ${(lastError as Error)?.message}`);
}
