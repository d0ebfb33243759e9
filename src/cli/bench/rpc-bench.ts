import { cpus } from 'node:os';
import { SingleBar, Presets } from 'cli-progress';
import { Command } from 'commander';
import { parseAddress, type Env } from '../../env/index.js';
import { realEnv } from '../../env/real/index.js';
import { RpcClient } from '../../wire/index.js';
import { LatencyHistogram, median } from './histogram.js';
import { redisAvailable, startRedis, type RedisResult } from './redis-peer.js';
import { spawnNode } from './spawn-node.js';

/** The load shapes of `tessera bench rpc`: connections × requests in flight per connection. */
const SHAPES = [
  { name: '1 conn, 1 in flight', connections: 1, inFlight: 1 },
  { name: '1 conn, 64 in flight', connections: 1, inFlight: 64 },
  { name: '8 conns, 64 in flight each', connections: 8, inFlight: 64 },
  { name: '32 conns, 1 in flight each', connections: 32, inFlight: 1 },
] as const;

interface ShapeResult {
  readonly shape: string;
  readonly connections: number;
  readonly inFlight: number;
  /** Median over the repeats. */
  readonly rps: number;
  readonly rpsRuns: readonly number[];
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly redis?: RedisResult & { readonly ratio: number };
}

interface BenchOptions {
  duration: number;
  repeat: number;
  target?: string;
  json?: boolean;
  redis: boolean;
}

export function rpcBenchCommand(): Command {
  return new Command('rpc')
    .description('native-protocol round trips per second over loopback TCP (vs redis PING)')
    .option('--duration <s>', 'seconds per measured run', (v) => Number(v), 3)
    .option('--repeat <n>', 'runs per shape (the median is reported)', (v) => Number(v), 3)
    .option('--target <address>', 'use a running node instead of spawning one')
    .option('--no-redis', 'skip the redis-server comparison')
    .option('--json', 'print results as JSON')
    .action(async (opts: BenchOptions) => {
      const results = await runRpcBench(opts);
      if (opts.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      else printTable(results);
    });
}

async function runRpcBench(opts: BenchOptions) {
  const node = opts.target ? undefined : await spawnNode();
  const address = parseAddress(opts.target ?? node!.address);
  const env = realEnv({ name: 'bench', root: process.cwd() });
  const withRedis = opts.redis && redisAvailable();
  const redis = withRedis ? await startRedis() : undefined;
  const results: ShapeResult[] = [];
  try {
    for (const shape of SHAPES) {
      await measure(env, address, shape.connections, shape.inFlight, 0.5); // warm-up
      const runs: Measured[] = [];
      for (let r = 0; r < opts.repeat; r++) {
        runs.push(
          await measure(env, address, shape.connections, shape.inFlight, opts.duration, shape.name),
        );
      }
      const rpsRuns = runs.map((m) => m.rps);
      const mid = runs.find((m) => m.rps === median(rpsRuns)) ?? runs[0]!;
      let redisResult: ShapeResult['redis'];
      if (redis) {
        const requests = Math.max(10_000, Math.round(median(rpsRuns) * opts.duration));
        const rr = [];
        for (let r = 0; r < opts.repeat; r++) {
          rr.push(redis.ping(shape.connections, shape.inFlight, requests));
        }
        const redisRps = median(rr.map((x) => x.rps));
        const pick = rr.find((x) => x.rps === redisRps) ?? rr[0]!;
        redisResult = { ...pick, rps: redisRps, ratio: median(rpsRuns) / redisRps };
      }
      results.push({
        shape: shape.name,
        connections: shape.connections,
        inFlight: shape.inFlight,
        rps: median(rpsRuns),
        rpsRuns,
        p50Ms: mid.hist.percentileMs(50),
        p99Ms: mid.hist.percentileMs(99),
        maxMs: mid.hist.maxMs(),
        ...(redisResult ? { redis: redisResult } : {}),
      });
    }
  } finally {
    await redis?.stop();
    await node?.stop();
  }
  return {
    benchmark: 'rpc',
    machine: `${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown cpu'}, node ${process.version}`,
    durationSeconds: opts.duration,
    repeat: opts.repeat,
    redisComparison: withRedis
      ? 'redis-benchmark -t ping_mbulk -c <conns> -P <in flight>'
      : 'not run (install redis-server and redis-tools)',
    results,
  };
}

interface Measured {
  readonly rps: number;
  readonly hist: LatencyHistogram;
}

/**
 * Keeps `inFlight` echo calls outstanding on each of `connections` connections for `seconds`,
 * recording each round trip's latency. A closed loop: each reply immediately sends the next.
 */
async function measure(
  env: Env,
  address: { host: string; port: number },
  connections: number,
  inFlight: number,
  seconds: number,
  label?: string,
): Promise<Measured> {
  const clients = await Promise.all(
    Array.from({ length: connections }, () => RpcClient.connect(env, address)),
  );
  const hist = new LatencyHistogram();
  const bar = label
    ? new SingleBar(
        {
          format: `  ${label.padEnd(28)} [{bar}] {percentage}% | {rps} req/s`,
          stream: process.stderr,
        },
        Presets.shades_classic,
      )
    : undefined;
  bar?.start(100, 0, { rps: 0 });
  const start = env.clock.monoMicros();
  const end = start + seconds * 1_000_000;
  let done = 0;
  const ticker = label
    ? env.timers.every(200, () => {
        const elapsed = env.clock.monoMicros() - start;
        bar?.update(Math.min(100, Math.round((elapsed / (end - start)) * 100)), {
          rps: Math.round(done / (elapsed / 1e6)),
        });
      })
    : undefined;
  const payload = 'ping';
  const loop = async (client: RpcClient) => {
    for (;;) {
      const t0 = env.clock.monoMicros();
      if (t0 >= end) return;
      await client.call('echo', payload);
      hist.record(env.clock.monoMicros() - t0);
      done++;
    }
  };
  await Promise.all(clients.flatMap((c) => Array.from({ length: inFlight }, () => loop(c))));
  const elapsedSeconds = (env.clock.monoMicros() - start) / 1e6;
  ticker?.cancel();
  bar?.update(100, { rps: Math.round(done / elapsedSeconds) });
  bar?.stop();
  await Promise.all(clients.map((c) => c.close()));
  return { rps: done / elapsedSeconds, hist };
}

function printTable(report: Awaited<ReturnType<typeof runRpcBench>>): void {
  const out: string[] = [];
  out.push(`tessera bench rpc — ${report.machine}`);
  out.push(
    `${'shape'.padEnd(28)} ${'req/s'.padStart(10)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}` +
      ` | ${'redis req/s'.padStart(11)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'ratio'.padStart(6)}`,
  );
  for (const r of report.results) {
    const redis = r.redis
      ? `${Math.round(r.redis.rps).toString().padStart(11)} ${r.redis.p50Ms.toFixed(3).padStart(8)}` +
        ` ${r.redis.p99Ms.toFixed(3).padStart(8)} ${r.redis.ratio.toFixed(2).padStart(6)}`
      : 'n/a';
    out.push(
      `${r.shape.padEnd(28)} ${Math.round(r.rps).toString().padStart(10)} ${r.p50Ms.toFixed(3).padStart(8)}` +
        ` ${r.p99Ms.toFixed(3).padStart(8)} | ${redis}`,
    );
  }
  out.push(
    `median of ${report.repeat} runs of ${report.durationSeconds}s; redis: ${report.redisComparison}`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
}
