/**
 * A throw-away redis-server for `tessera bench ycsb --compare redis`, configured to be as
 * durable as a Tessera node with `--sync always`: every write is in the append-only file and
 * fsynced before it is acknowledged (`appendonly yes`, `appendfsync always`), no RDB snapshots.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, redisAnswers } from '../redis-peer.js';
import { peakRssKiB, stopServer } from './server-process.js';

export const REDIS_INSTALL = 'sudo apt-get install redis-server';

export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export function redisServerVersion(): string {
  const out = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return /v=([\d.]+)/.exec(out)?.[1] ?? 'unknown';
}

export interface DurableRedis {
  readonly address: string;
  readonly pid: number;
  readonly proc: ChildProcess;
  /** Peak resident set of the server in KiB (VmHWM), or undefined off Linux. */
  peakRssKiB(): number | undefined;
  stop(): Promise<void>;
}

export async function startDurableRedis(): Promise<DurableRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tessera-ycsb-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
  args.push('--appendonly', 'yes', '--appendfsync', 'always');
  const proc = spawn('redis-server', args, { stdio: 'ignore' });
  if (!(await redisAnswers(port, () => proc.exitCode !== null || proc.signalCode !== null))) {
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`redis-server on port ${port} did not answer PING`);
  }
  return {
    address: `127.0.0.1:${port}`,
    pid: proc.pid!,
    proc,
    peakRssKiB: () => peakRssKiB(proc.pid!),
    stop: () => stopServer(proc, dir),
  };
}
