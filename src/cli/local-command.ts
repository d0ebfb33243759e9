import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
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
  readonly role: 'node';
  readonly name: string;
  readonly address: string;
  readonly pid: number;
  readonly dir: string;
}

const tesseraBin = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));
const readyTimeoutMs = 15_000;
const restartsPerMinuteMax = 5;
const stopGraceMs = 5_000;

interface Child {
  readonly name: string;
  readonly dir: string;
  readonly listen: string;
  proc: ChildProcess;
  address: string;
  restarts: number[];
}

/**
 * `tessera local` — starts an embedded local cluster as real child processes under a data
 * directory, writes `<dir>/cluster.json`, restarts a process that dies, and stops everything on
 * Ctrl-C. For now the cluster is serving nodes answering the native protocol; the lock service,
 * master and tablet servers join it as their issues land.
 */
export function localCommand(): Command {
  return new Command('local')
    .description('start an embedded local cluster (real child processes) under a data directory')
    .option('--dir <path>', 'data directory', './data')
    .option('--nodes <n>', 'number of serving nodes', (v) => Number(v), 1)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--base-port <port>', 'first node port (0: pick free ports)', (v) => Number(v), 7701)
    .action(async (opts: LocalOptions) => {
      process.exitCode = await runLocal(opts);
    });
}

interface LocalOptions {
  dir: string;
  nodes: number;
  host: string;
  basePort: number;
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
  let stopping = false;

  const writeClusterFile = (state: ClusterFile['state']) => {
    const file: ClusterFile = {
      version: 1,
      state,
      launcherPid: process.pid,
      dataDir,
      processes: children.map((c) => ({
        role: 'node',
        name: c.name,
        address: c.address,
        pid: c.proc.pid ?? -1,
        dir: c.dir,
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
      startChild(child.name, child.dir, child.address).then(
        ({ proc, address }) => {
          child.proc = proc;
          child.address = address;
          writeClusterFile('running');
          logEvent('local', 'process-restarted', { name: child.name, pid: proc.pid, address });
          supervise(child);
        },
        (err: Error) =>
          logEvent('local', 'restart-failed', { name: child.name, error: err.message }),
      );
    });
  };

  try {
    for (let i = 0; i < opts.nodes; i++) {
      const name = `node${i + 1}`;
      const dir = join(dataDir, name);
      const port = opts.basePort === 0 ? 0 : opts.basePort + i;
      const listen = `${opts.host}:${port}`;
      const { proc, address } = await startChild(name, dir, listen);
      const child: Child = { name, dir, listen, proc, address, restarts: [] };
      children.push(child);
      supervise(child);
    }
  } catch (err) {
    stopping = true;
    await stopAll(children);
    process.stderr.write(`tessera local: ${(err as Error).message}\n`);
    return 1;
  }
  writeClusterFile('running');
  const lines = [
    `Tessera local cluster is up (data in ${dataDir}, listed in ${clusterPath})`,
    ...children.map((c) => `  ${c.name.padEnd(8)} node  ${c.address.padEnd(21)} pid ${c.proc.pid}`),
    `Try it:  npx tessera ping ${children[0]?.address ?? ''}`,
    'Stop:    Ctrl-C',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  await new Promise<void>((done) => {
    const stop = () => {
      if (stopping) return;
      stopping = true;
      process.stdout.write('Stopping the local cluster...\n');
      stopAll(children).then(done, done);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  writeClusterFile('stopped');
  process.stdout.write('Stopped.\n');
  return 0;
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

function startChild(
  name: string,
  dir: string,
  listen: string,
): Promise<{ proc: ChildProcess; address: string }> {
  mkdirSync(dir, { recursive: true });
  const proc = spawn(
    process.execPath,
    [tesseraBin, 'node', '--name', name, '--dir', dir, '--listen', listen],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${name} did not become ready within ${readyTimeoutMs} ms`));
    }, readyTimeoutMs);
    const lines = createInterface({ input: proc.stdout! });
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { event?: string; address?: string };
        if (msg.event === 'ready' && msg.address) {
          clearTimeout(timer);
          resolveStart({ proc, address: msg.address });
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
