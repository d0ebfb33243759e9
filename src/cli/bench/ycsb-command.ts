/**
 * `tessera bench ycsb --workload a|b|c|d|e|f` — the YCSB core workloads (docs/bench-ycsb.md):
 * a load phase and a run phase by N closed-loop clients, HDR percentiles per operation type.
 * Without --target it starts its own `tessera node` (WAL fsync before every acknowledgement)
 * and reports the node's peak RSS; `--compare redis` runs the same load and run against a
 * fresh `redis-server --appendonly yes --appendfsync always` and prints Tessera/Redis ratios.
 */
import { cpus, tmpdir } from 'node:os';
import { Command, Option } from 'commander';
import { connect } from '../../client/index.js';
import { realEnv } from '../../env/real/index.js';
import {
  REDIS_INSTALL,
  redisServerAvailable,
  redisServerVersion,
  startDurableRedis,
} from './ycsb/redis-server.js';
import { loadGeneratorFlagsInPlace, rerunWithLoadGeneratorFlags } from './load-generator-flags.js';
import { runWorkload, type Latency, type SystemResult } from './ycsb/runner.js';
import { redisSystem, tesseraSystem, type YcsbSystem } from './ycsb/targets.js';
import { startYcsbNode } from './ycsb/tessera-node.js';
import {
  FIELD_COUNT,
  OP_KINDS,
  TABLE_NAME,
  WORKLOAD_NAMES,
  WORKLOADS,
  WorkloadStream,
  type OpKind,
  type WorkloadName,
} from './ycsb/workloads.js';
import { FIELD_LENGTH } from './ycsb/generators.js';

interface YcsbOptions {
  workload: WorkloadName;
  records: number;
  operations: number;
  clients: number;
  connections?: number;
  target?: string;
  compare?: string;
  seed: number;
  json?: boolean;
}

interface SystemReport extends SystemResult {
  readonly description: string;
  /** Peak resident set of the server process in KiB (VmHWM), when this run started it. */
  readonly peakRssKiB?: number;
}

interface Ratios {
  /** Run-phase ops/s, Tessera ÷ Redis. */
  readonly throughput: number;
  /** Run-phase p99, Tessera ÷ Redis, per operation type and for all operations. */
  readonly p99: Partial<Record<OpKind | 'all', number>>;
}

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer`);
  return n;
};

export function ycsbBenchCommand(): Command {
  return new Command('ycsb')
    .description('YCSB core workloads A–F against a Tessera node (vs Redis with --compare redis)')
    .addOption(
      new Option('--workload <name>', 'YCSB core workload')
        .choices(WORKLOAD_NAMES as string[])
        .makeOptionMandatory(),
    )
    .option(
      '--records <n>',
      'records inserted by the load phase',
      positiveInt('--records'),
      100_000,
    )
    .option('--operations <n>', 'operations of the run phase', positiveInt('--operations'), 100_000)
    .option('--clients <n>', 'concurrent closed-loop clients', positiveInt('--clients'), 32)
    .option(
      '--connections <n>',
      "connections the clients share, for every system (default: each binding's own: Tessera 1, as YCSB's HBase binding; Redis one per client, as its Jedis binding)",
      positiveInt('--connections'),
    )
    .option('--target <url>', 'tessera://host:port or redis://host:port (default: spawn a node)')
    .option('--compare <system>', "also run against 'redis' (a fresh fsync-always redis-server)")
    .option('--seed <n>', 'seed of the workload generators', (v) => Number(v), 1)
    .option('--json', 'print results as JSON')
    .action(async (opts: YcsbOptions) => {
      if (!loadGeneratorFlagsInPlace()) {
        process.exitCode = await rerunWithLoadGeneratorFlags();
        return;
      }
      if (!Number.isSafeInteger(opts.seed)) throw new Error('--seed must be an integer');
      if (opts.compare !== undefined && opts.compare !== 'redis') {
        throw new Error(`--compare: only 'redis' is supported, not '${opts.compare}'`);
      }
      if (opts.compare === 'redis' && opts.target?.startsWith('redis://')) {
        throw new Error('--compare redis compares against Tessera; --target must not be redis');
      }
      if (opts.compare === 'redis' && !redisServerAvailable()) {
        throw new Error(
          `--compare redis needs redis-server on PATH; Debian/Ubuntu: ${REDIS_INSTALL}`,
        );
      }
      const report = await runYcsbBench(opts);
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else printReport(report);
    });
}

function connectFn() {
  const env = realEnv({ name: 'bench-ycsb', root: tmpdir() });
  return (addresses: readonly string[]) => connect(env, addresses);
}

/** Runs the workload against the system `start` brings up, then stops it. */
async function measure(
  opts: YcsbOptions,
  start: () => Promise<{
    system: YcsbSystem;
    description: string;
    peakRssKiB?: () => number | undefined;
    stop?: () => Promise<void>;
  }>,
): Promise<SystemReport> {
  const { system, description, peakRssKiB, stop } = await start();
  try {
    const stream = new WorkloadStream(WORKLOADS[opts.workload], {
      records: opts.records,
      operations: opts.operations,
      seed: opts.seed,
    });
    const result = await runWorkload(system, stream, {
      records: opts.records,
      operations: opts.operations,
      clients: opts.clients,
      ...(opts.connections === undefined ? {} : { connections: opts.connections }),
      progress: !opts.json && process.stderr.isTTY === true,
    });
    const rss = peakRssKiB?.();
    return { ...result, description, ...(rss !== undefined ? { peakRssKiB: rss } : {}) };
  } finally {
    await stop?.();
  }
}

function stripScheme(target: string, scheme: string): string {
  return target.startsWith(scheme) ? target.slice(scheme.length).replace(/\/$/, '') : target;
}

async function runYcsbBench(opts: YcsbOptions) {
  const note = (msg: string) => {
    if (!opts.json) process.stderr.write(`${msg}\n`);
  };
  const systems: SystemReport[] = [];
  const target = opts.target;
  if (target?.startsWith('redis://')) {
    note(`redis at ${target}`);
    systems.push(
      await measure(opts, async () => ({
        system: redisSystem(target),
        description: `redis at ${target} (durability as that server is configured)`,
      })),
    );
  } else if (target !== undefined) {
    if (!target.startsWith('tessera://')) {
      throw new Error(`--target must be tessera://host:port or redis://host:port: ${target}`);
    }
    const address = stripScheme(target, 'tessera://');
    note(`tessera node at ${address}`);
    systems.push(
      await measure(opts, async () => ({
        system: tesseraSystem(address, connectFn()),
        description: `tessera node at ${address} (durability as that node is configured)`,
      })),
    );
  } else {
    note('starting a tessera node (--sync always)...');
    systems.push(
      await measure(opts, async () => {
        const node = await startYcsbNode();
        return {
          system: tesseraSystem(node.address, connectFn()),
          description: 'one tessera node on loopback, WAL fsync before every acknowledgement',
          peakRssKiB: () => node.peakRssKiB(),
          stop: () => node.stop(),
        };
      }),
    );
  }
  if (opts.compare === 'redis') {
    note('starting redis-server --appendonly yes --appendfsync always...');
    systems.push(
      await measure(opts, async () => {
        const redis = await startDurableRedis();
        return {
          system: redisSystem(`redis://${redis.address}`, { flush: true }),
          description: `redis-server ${redisServerVersion()} on loopback, appendonly yes, appendfsync always, no RDB`,
          peakRssKiB: () => redis.peakRssKiB(),
          stop: () => redis.stop(),
        };
      }),
    );
  }
  const spec = WORKLOADS[opts.workload];
  const tessera = systems.find((s) => s.system === 'tessera');
  const redis = opts.compare === 'redis' ? systems.find((s) => s.system === 'redis') : undefined;
  return {
    benchmark: 'ycsb',
    workload: spec.name,
    description: spec.description,
    proportions: spec.proportions,
    requestDistribution: spec.requestDistribution,
    machine: `${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown cpu'}, node ${process.version}`,
    command: `tessera bench ycsb ${process.argv.slice(4).join(' ')}`.trim(),
    // How the benchmark process itself ran (load-generator-flags.ts), for whoever compares runs.
    loadGenerator: { v8Flags: [...process.execArgv] },
    table: TABLE_NAME,
    fields: FIELD_COUNT,
    fieldLength: FIELD_LENGTH,
    records: opts.records,
    operations: opts.operations,
    clients: opts.clients,
    seed: opts.seed,
    latencyUnit: 'µs',
    systems,
    ...(tessera && redis ? { ratios: ratios(tessera, redis) } : {}),
  };
}

function ratios(tessera: SystemResult, redis: SystemResult): Ratios {
  const p99: Partial<Record<OpKind | 'all', number>> = {};
  for (const kind of [...OP_KINDS, 'all'] as const) {
    const t = tessera.run.latency[kind];
    const r = redis.run.latency[kind];
    if (t && r) p99[kind] = t.p99Us / r.p99Us;
  }
  return { throughput: tessera.run.opsPerSecond / redis.run.opsPerSecond, p99 };
}

type Report = Awaited<ReturnType<typeof runYcsbBench>>;

function latencyRows(label: string, latency: Partial<Record<OpKind | 'all', Latency>>): string[] {
  const n = (v: number, w = 8) => Math.round(v).toString().padStart(w);
  const rows: string[] = [];
  for (const kind of [...OP_KINDS, 'all'] as const) {
    const l = latency[kind];
    if (!l) continue;
    rows.push(
      `  ${label.padEnd(5)} ${kind.padEnd(15)} ${n(l.count)} ${n(l.p50Us)} ${n(l.p95Us)} ${n(l.p99Us)} ${n(l.p999Us)} ${n(l.maxUs)}`,
    );
  }
  return rows;
}

function printReport(report: Report): void {
  const out: string[] = [];
  out.push(`tessera bench ycsb — workload ${report.workload.toUpperCase()}: ${report.description}`);
  out.push(`${report.machine}`);
  out.push(
    `${report.records} records × ${report.fields} fields × ${report.fieldLength} B, ${report.operations} operations, ${report.clients} clients, seed ${report.seed}`,
  );
  for (const s of report.systems) {
    out.push('');
    out.push(`${s.system}: ${s.description}; ${s.connections} connection(s)`);
    for (const phase of [s.load, s.run]) {
      const errs = phase.errors ? `, ${phase.errors} errors (${phase.firstError})` : '';
      const nf = phase.notFound ? `, ${phase.notFound} not found` : '';
      out.push(
        `  ${phase.phase}: ${phase.operations} ops in ${phase.seconds.toFixed(2)} s = ${Math.round(phase.opsPerSecond)} ops/s${errs}${nf}`,
      );
    }
    out.push(
      `  ${'phase'.padEnd(5)} ${'op'.padEnd(15)} ${'count'.padStart(8)} ${'p50 µs'.padStart(8)} ${'p95 µs'.padStart(8)} ${'p99 µs'.padStart(8)} ${'p99.9 µs'.padStart(8)} ${'max µs'.padStart(8)}`,
    );
    out.push(...latencyRows('load', s.load.latency), ...latencyRows('run', s.run.latency));
    if (s.peakRssKiB !== undefined) {
      out.push(`  peak RSS of the ${s.system} server: ${(s.peakRssKiB / 1024).toFixed(1)} MiB`);
    }
  }
  if (report.ratios) {
    out.push('');
    out.push(`tessera ÷ redis (run phase): throughput ${report.ratios.throughput.toFixed(2)}x`);
    for (const [kind, r] of Object.entries(report.ratios.p99)) {
      out.push(`  p99 ${kind.padEnd(15)} ${r.toFixed(2)}x`);
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
