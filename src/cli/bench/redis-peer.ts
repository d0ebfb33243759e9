import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** True when redis-server, redis-cli and redis-benchmark are on PATH (Debian: redis-server, redis-tools). */
export function redisAvailable(): boolean {
  const ok = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
  return ok('redis-server') && ok('redis-benchmark') && ok('redis-cli');
}

export interface RedisResult {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface RedisPeer {
  readonly port: number;
  /** PING (multi-bulk) with `clients` connections and `pipeline` requests per batch. */
  ping(clients: number, pipeline: number, requests: number): RedisResult;
  stop(): Promise<void>;
}

/** A loopback TCP port free right now (another process may still take it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.once('error', reject);
  });
}

/** Polls `redis-cli ping` on the port for up to 5 s; false if it never answers or `gone()`. */
export async function redisAnswers(port: number, gone: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100 && !gone(); i++) {
    const r = spawnSync('redis-cli', ['-p', String(port), 'ping'], {
      encoding: 'utf8',
      timeout: 2000,
    });
    if (r.status === 0 && r.stdout.trim() === 'PONG') return true;
    await new Promise((res) => setTimeout(res, 50));
  }
  return false;
}

/** Starts a throw-away redis-server on loopback (no persistence: PING touches no disk anyway). */
export async function startRedis(): Promise<RedisPeer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tessera-redis-'));
  const proc = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { stdio: 'ignore' },
  );
  if (!(await redisAnswers(port, () => proc.exitCode !== null))) {
    proc.kill('SIGKILL');
    throw new Error(`redis-server on port ${port} did not answer PING`);
  }
  return {
    port,
    ping(clients, pipeline, requests) {
      const args = ['-p', String(port), '-t', 'ping_mbulk', '-c', String(clients)];
      args.push('-P', String(pipeline), '-n', String(requests), '--csv');
      const out = spawnSync('redis-benchmark', args, { encoding: 'utf8' }).stdout;
      const row = out
        .split('\n')
        .find((l) => l.startsWith('"PING_MBULK"'))
        ?.split(',')
        .map((f) => f.replace(/"/g, ''));
      if (!row) throw new Error(`could not parse redis-benchmark output: ${out}`);
      return { rps: Number(row[1]), p50Ms: Number(row[4]), p99Ms: Number(row[6]) };
    },
    stop: () =>
      new Promise<void>((done) => {
        proc.once('exit', () => {
          rmSync(dir, { recursive: true, force: true });
          done();
        });
        proc.kill('SIGTERM');
      }),
  };
}
