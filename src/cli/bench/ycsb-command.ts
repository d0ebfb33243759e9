/**
 * `tessera bench ycsb --workload a|b|c|d|e|f` — the YCSB core workloads (docs/bench-ycsb.md):
 * a load phase and a run phase by N closed-loop clients, HDR percentiles per operation type.
 * Without --target it starts its own `tessera node` (WAL fsync before every acknowledgement)
 * and reports the node's peak RSS; `--compare redis` runs the same load and run against a
 * fresh `redis-server --appendonly yes --appendfsync always` and prints Tessera/Redis ratios.
 * `--ring n` starts n ring nodes instead and runs the workload on a hashed table at
 * `--replication` and `--consistency`; `--compare ring1` runs it again on a one-node ring at
 * RF=1 and prints the ratios of the two (ycsb/ring-plan.ts checks the flags).
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
import {
  planRun,
  RING1,
  ringDescription,
  YCSB_COMPARES,
  type RingPlan,
  type RunPlan,
} from './ycsb/ring-plan.js';
import { runWorkload, type Latency, type SystemResult } from './ycsb/runner.js';
import { redisSystem, tesseraSystem, type YcsbSystem } from './ycsb/targets.js';
import { startYcsbNode } from './ycsb/tessera-node.js';
import { stopServersOnSignals, trackServer } from './ycsb/spawned-servers.js';
import { RING_NODES_MAX, startYcsbRing } from './ycsb/tessera-ring.js';
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
  /** Every --compare given; planRun allows one. */
  compare?: string[];
  ring?: number;
  replication?: number;
  consistency?: string;
  seed: number;
  json?: boolean;
}

/** What a ring system adds to its report. */
interface RingReport {
  readonly nodes: number;
  readonly replicationFactor: number;
  readonly consistency: string;
  /** Process ids of the ring's nodes, all stopped by the time the report is printed. */
  readonly pids: readonly number[];
  /** Peak resident set of each node in KiB (VmHWM), in start order; null where unreadable. */
  readonly peakRssKiBPerNode: readonly (number | null)[];
  readonly peakRssKiBSum?: number;
  readonly peakRssKiBMax?: number;
}

interface SystemReport extends SystemResult, Partial<RingReport> {
  readonly description: string;
  /** Peak resident set of the server process in KiB (VmHWM), when this run started it. */
  readonly peakRssKiB?: number;
}

type PerKind = Partial<Record<OpKind | 'all', number>>;

interface Ratios {
  /** Run-phase ops/s, Tessera ÷ Redis. */
  readonly throughput: number;
  /** Run-phase p99, Tessera ÷ Redis, per operation type and for all operations. */
  readonly p99: PerKind;
}

/** `--compare ring1`: the first system's run phase ÷ the one-node ring's. */
interface RingRatios {
  readonly compared: 'ring1';
  readonly throughput: number;
  readonly p50: PerKind;
  readonly p99: PerKind;
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
    .option(
      '--ring <n>',
      `spawn a ring of n nodes (1–${RING_NODES_MAX}) and use a hashed table`,
      positiveInt('--ring'),
    )
    .option(
      '--replication <rf>',
      'with --ring: replication factor of the table (default min(3, n))',
      positiveInt('--replication'),
    )
    .option(
      '--consistency <level>',
      'with --ring: consistency level of every read and write (default QUORUM)',
    )
    .option(
      '--compare <system>',
      `also run against ${YCSB_COMPARES.map((c) => `'${c}'`).join(' or ')}: a fresh fsync-always redis-server, or a one-node ring at RF=1`,
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option('--seed <n>', 'seed of the workload generators', (v) => Number(v), 1)
    .option('--json', 'print results as JSON')
    .action(async (opts: YcsbOptions) => {
      // Checked before the re-run, so that flags which cannot work fail at once.
      const plan = planRun(opts);
      if (!Number.isSafeInteger(opts.seed)) throw new Error('--seed must be an integer');
      if (plan.compare === 'redis' && opts.target?.startsWith('redis://')) {
        throw new Error('--compare redis compares against Tessera; --target must not be redis');
      }
      if (plan.compare === 'redis' && !redisServerAvailable()) {
        throw new Error(
          `--compare redis needs redis-server on PATH; Debian/Ubuntu: ${REDIS_INSTALL}`,
        );
      }
      if (!loadGeneratorFlagsInPlace()) {
        process.exitCode = await rerunWithLoadGeneratorFlags();
        return;
      }
      stopServersOnSignals();
      const report = await runYcsbBench(opts, plan);
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
    /** Read at the end of the run, before the system stops. */
    ring?: () => RingReport;
    stop?: () => Promise<void>;
  }>,
): Promise<SystemReport> {
  const { system, description, peakRssKiB, ring, stop } = await start();
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
    return {
      ...result,
      description,
      ...(rss !== undefined ? { peakRssKiB: rss } : {}),
      ...ring?.(),
    };
  } finally {
    await stop?.();
  }
}

function stripScheme(target: string, scheme: string): string {
  return target.startsWith(scheme) ? target.slice(scheme.length).replace(/\/$/, '') : target;
}

/** Starts the ring `plan` describes and runs the workload on a hashed table there. */
function measureRing(opts: YcsbOptions, plan: RingPlan): Promise<SystemReport> {
  return measure(opts, async () => {
    const ring = await startYcsbRing(plan.nodes);
    const base = tesseraSystem(ring.addresses, connectFn(), {
      placement: { hashed: { replicationFactor: plan.replicationFactor } },
      consistency: plan.consistency,
    });
    const system: YcsbSystem = {
      ...base,
      // The load phase starts once every node knows the table (tessera-ring.ts says why).
      async prepare() {
        await base.prepare();
        await ring.waitForTable(TABLE_NAME, plan.replicationFactor);
      },
    };
    return {
      system,
      description: ringDescription(plan),
      ring: () =>
        ringReport(
          plan,
          ring.nodes.map((n) => n.pid),
          ring.peakRssKiB(),
        ),
      stop: () => ring.stop(),
    };
  });
}

function ringReport(
  plan: RingPlan,
  pids: readonly number[],
  rss: readonly (number | undefined)[],
): RingReport {
  const known = rss.filter((r): r is number => r !== undefined);
  return {
    nodes: plan.nodes,
    replicationFactor: plan.replicationFactor,
    consistency: plan.consistency,
    pids,
    peakRssKiBPerNode: rss.map((r) => r ?? null),
    ...(known.length === 0
      ? {}
      : { peakRssKiBSum: known.reduce((a, b) => a + b, 0), peakRssKiBMax: Math.max(...known) }),
  };
}

async function runYcsbBench(opts: YcsbOptions, plan: RunPlan) {
  const note = (msg: string) => {
    if (!opts.json) process.stderr.write(`${msg}\n`);
  };
  const systems: SystemReport[] = [];
  const target = opts.target;
  if (plan.ring !== undefined) {
    note(`starting a ${plan.ring.nodes}-node tessera ring (--sync always)...`);
    systems.push(await measureRing(opts, plan.ring));
  } else if (target?.startsWith('redis://')) {
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
  if (plan.compare === 'ring1') {
    note('starting a one-node tessera ring (--sync always) to compare with...');
    systems.push(await measureRing(opts, RING1));
  }
  if (plan.compare === 'redis') {
    note('starting redis-server --appendonly yes --appendfsync always...');
    systems.push(
      await measure(opts, async () => {
        const redis = await startDurableRedis();
        const stop = trackServer(() => redis.stop());
        return {
          system: redisSystem(`redis://${redis.address}`, { flush: true }),
          description: `redis-server ${redisServerVersion()} on loopback, appendonly yes, appendfsync always, no RDB`,
          peakRssKiB: () => redis.peakRssKiB(),
          stop,
        };
      }),
    );
  }
  const spec = WORKLOADS[opts.workload];
  const tessera = systems.find((s) => s.system === 'tessera');
  const redis = plan.compare === 'redis' ? systems.find((s) => s.system === 'redis') : undefined;
  const ring1 = plan.compare === 'ring1' ? systems[1] : undefined;
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
    ...(ring1 ? { ringRatios: ringRatios(systems[0]!, ring1) } : {}),
  };
}

/** Run-phase `field` of `a` ÷ that of `b`, per operation type both ran and for all. */
function latencyRatios(a: SystemResult, b: SystemResult, field: 'p50Us' | 'p99Us'): PerKind {
  const out: PerKind = {};
  for (const kind of [...OP_KINDS, 'all'] as const) {
    const x = a.run.latency[kind];
    const y = b.run.latency[kind];
    if (x && y) out[kind] = x[field] / y[field];
  }
  return out;
}

function ringRatios(system: SystemResult, ring1: SystemResult): RingRatios {
  return {
    compared: 'ring1',
    throughput: system.run.opsPerSecond / ring1.run.opsPerSecond,
    p50: latencyRatios(system, ring1, 'p50Us'),
    p99: latencyRatios(system, ring1, 'p99Us'),
  };
}

function ratios(tessera: SystemResult, redis: SystemResult): Ratios {
  return {
    throughput: tessera.run.opsPerSecond / redis.run.opsPerSecond,
    p99: latencyRatios(tessera, redis, 'p99Us'),
  };
}

type Report = Awaited<ReturnType<typeof runYcsbBench>>;

function ringRssLine(s: SystemReport): string {
  const mib = (kib: number | null | undefined) =>
    kib === null || kib === undefined ? '?' : (kib / 1024).toFixed(1);
  const per = (s.peakRssKiBPerNode ?? []).map(mib).join(', ');
  return `peak RSS per ring node: ${per} MiB (sum ${mib(s.peakRssKiBSum)}, max ${mib(s.peakRssKiBMax)})`;
}

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
    if (s.peakRssKiBPerNode !== undefined) out.push(`  ${ringRssLine(s)}`);
  }
  if (report.ratios) {
    out.push('');
    out.push(`tessera ÷ redis (run phase): throughput ${report.ratios.throughput.toFixed(2)}x`);
    for (const [kind, r] of Object.entries(report.ratios.p99)) {
      out.push(`  p99 ${kind.padEnd(15)} ${r.toFixed(2)}x`);
    }
  }
  if (report.ringRatios) {
    const r = report.ringRatios;
    const of = report.systems[0];
    const name = of?.nodes === undefined ? of?.system : `${of.nodes}-node ring`;
    out.push('');
    out.push(`${name} ÷ 1-node ring (run phase): throughput ${r.throughput.toFixed(2)}x`);
    for (const [kind, p50] of Object.entries(r.p50)) {
      const p99 = r.p99[kind as OpKind | 'all'];
      out.push(`  ${kind.padEnd(15)} p50 ${p50.toFixed(2)}x  p99 ${p99?.toFixed(2) ?? '-'}x`);
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
