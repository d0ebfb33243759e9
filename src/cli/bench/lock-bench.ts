/**
 * `tessera bench lock` — lock-service throughput and latency in the shape of the ZooKeeper
 * paper's Table 1: N closed-loop clients, each with one request outstanding, doing `lock.get`
 * or `lock.set` of 1 KiB values on random existing nodes, at read fractions 0%, 50%, 90% and
 * 100%, against a 3-replica cluster of real `tessera lock` processes it starts itself (Raft log
 * fsync on). `--compare etcd` drives the same load through a local 3-member etcd's HTTP/JSON
 * gateway (linearizable range reads, puts) and prints the ratios; `--compare zookeeper` does the
 * same against a local 3-server ZooKeeper ensemble (setData writes, getData reads, clients spread
 * over the servers and reading from their own server, as in the ZooKeeper paper).
 */
import { cpus } from 'node:os';
import { isTesseraError } from '../../util/errors.js';
import { Command } from 'commander';
import { realEnv } from '../../env/real/index.js';
import { etcdAvailable, etcdVersion, ETCD_INSTALL, startEtcd } from './etcd-peer.js';
import { LatencyHistogram } from './histogram.js';
import { LockClient, waitForLeader } from './lock-client.js';
import { startLockCluster } from './lock-cluster.js';
import { peakRssKiB } from './ycsb/server-process.js';
import {
  startZooKeeper,
  zookeeperAvailable,
  zookeeperVersion,
  ZOOKEEPER_INSTALL,
} from './zookeeper-peer.js';

/** Read percentages of the rows run by default: the ZooKeeper paper's Table 1 shape. */
const READ_PERCENTS_DEFAULT = [0, 50, 90, 100];

/** Parses `--reads 0,50`: distinct percentages 0–100 in the order given. */
export function parseReadPercents(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',')) {
    const n = Number(part.trim());
    if (part.trim() === '' || !Number.isInteger(n) || n < 0 || n > 100) {
      throw new Error(`--reads: comma-separated whole percentages 0-100, not '${text}'`);
    }
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

/** The systems `--compare` accepts; each is started locally as a 3-member cluster. */
const PEERS = ['etcd', 'zookeeper'] as const;
type Peer = (typeof PEERS)[number];

/** One load against a peer: `op` by client `c`, a read or a write of node `key`. */
interface PeerDriver {
  load(keys: number, value: Uint8Array): Promise<void>;
  op(c: number, read: boolean, key: number, value: Uint8Array): Promise<unknown>;
  stop(): Promise<void>;
}

interface LockBenchOptions {
  clients: number;
  seconds: number;
  keys: number;
  valueBytes: number;
  reads: number[];
  compare?: string;
  json?: boolean;
}

interface Measured {
  readonly opsPerSecond: number;
  readonly ops: number;
  readonly errors: number;
  /** The first error seen, if any. */
  readonly firstError?: string;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

interface Row {
  readonly readFraction: number;
  readonly tessera: Measured;
  readonly etcd?: Measured & { readonly ratio: number };
  readonly zookeeper?: Measured & { readonly ratio: number };
}

export function lockBenchCommand(): Command {
  return new Command('lock')
    .description(
      'lock-service get/set throughput at 0/50/90/100% reads (vs etcd or ZooKeeper with --compare)',
    )
    .option('--clients <n>', 'concurrent closed-loop clients', (v) => Number(v), 32)
    .option('--seconds <s>', 'measured seconds per read fraction', (v) => Number(v), 10)
    .option('--keys <n>', 'nodes the clients read and write', (v) => Number(v), 1000)
    .option('--value-bytes <n>', 'value size in bytes', (v) => Number(v), 1024)
    .option(
      '--reads <percents>',
      'read percentages of the rows to run, comma-separated',
      parseReadPercents,
      READ_PERCENTS_DEFAULT,
    )
    .option(
      '--compare <system>',
      "also run the load against 'etcd' or 'zookeeper' (a local 3-member cluster)",
    )
    .option('--json', 'print results as JSON')
    .action(async (opts: LockBenchOptions) => {
      if (opts.compare !== undefined && !(PEERS as readonly string[]).includes(opts.compare)) {
        throw new Error(`--compare: one of ${PEERS.join(', ')}, not '${opts.compare}'`);
      }
      if (opts.compare === 'etcd' && !etcdAvailable()) {
        throw new Error(`--compare etcd needs etcd on PATH; Debian/Ubuntu: ${ETCD_INSTALL}`);
      }
      if (opts.compare === 'zookeeper' && !zookeeperAvailable()) {
        throw new Error(
          `--compare zookeeper needs java and the ZooKeeper server jars; Debian/Ubuntu: ${ZOOKEEPER_INSTALL}`,
        );
      }
      const report = await runLockBench(opts);
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else printTable(report);
    });
}

const keyName = (i: number) => `/bench/k${i}`;

/** Runs `clients` closed loops for `seconds`: each picks a read with probability `reads`. */
async function closedLoop(
  clients: number,
  seconds: number,
  reads: number,
  keys: number,
  op: (client: number, read: boolean, key: number) => Promise<void>,
): Promise<Measured> {
  const hist = new LatencyHistogram();
  const start = performance.now();
  const end = start + seconds * 1000;
  let ops = 0;
  let errors = 0;
  let firstError: string | undefined;
  const loop = async (c: number) => {
    while (performance.now() < end) {
      const read = Math.random() < reads;
      const key = Math.floor(Math.random() * keys);
      const t0 = performance.now();
      try {
        await op(c, read, key);
        hist.record((performance.now() - t0) * 1000);
        ops++;
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => loop(c)));
  const elapsed = (performance.now() - start) / 1000;
  return {
    opsPerSecond: ops / elapsed,
    ops,
    errors,
    ...(firstError !== undefined ? { firstError } : {}),
    p50Ms: hist.percentileMs(50),
    p99Ms: hist.percentileMs(99),
    maxMs: hist.maxMs(),
  };
}

/** Runs `count` calls of `fn` with `width` in flight. */
async function parallel(count: number, width: number, fn: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await fn(next++);
    }),
  );
}

async function runLockBench(opts: LockBenchOptions) {
  const { clients, seconds, keys, valueBytes } = opts;
  const fractions = opts.reads.map((p) => p / 100);
  const value = new Uint8Array(valueBytes).fill(0x61);
  const progress = (msg: string) => process.stderr.write(`${msg}\n`);
  const tessera = new Map<number, Measured>();
  let peakRssMiB: (number | null)[] = [];
  progress('starting a 3-replica lock cluster (tessera lock)...');
  const cluster = await startLockCluster(3);
  const addresses = cluster.replicas.map((r) => r.address);
  const env = realEnv({ name: 'bench-lock', root: cluster.root });
  const pool = Array.from({ length: clients }, () => new LockClient(env, addresses));
  try {
    const leader = await waitForLeader(pool[0]!, addresses);
    for (const c of pool) c.leader = leader;
    await pool[0]!.call('lock.create', { path: '/bench', data: new Uint8Array() });
    const step = Math.max(10_000, Math.ceil(keys / 10));
    await parallel(keys, clients, async (i) => {
      await pool[i % clients]!.call('lock.create', { path: keyName(i), data: value }).catch(
        // A create retried after an unknown outcome finds the node its first try made.
        (err: unknown) => {
          if (!isTesseraError(err, 'ALREADY_EXISTS')) throw err;
        },
      );
      if ((i + 1) % step === 0) progress(`tessera: created ${i + 1} of ${keys} nodes`);
    });
    const op = async (c: number, read: boolean, key: number) => {
      const client = pool[c]!;
      const path = keyName(key);
      if (read) await client.call('lock.get', { path }, { retryUnknown: false });
      else await client.call('lock.set', { path, data: value }, { retryUnknown: false });
    };
    await closedLoop(clients, Math.min(1, seconds / 4), 0.5, keys, op); // warm-up
    for (const reads of fractions) {
      progress(`tessera: ${Math.round(reads * 100)}% reads, ${clients} clients, ${seconds} s`);
      tessera.set(reads, await closedLoop(clients, seconds, reads, keys, op));
    }
    peakRssMiB = cluster.replicas.map((r) => {
      const kib = r.proc?.pid === undefined ? undefined : peakRssKiB(r.proc.pid);
      return kib === undefined ? null : Math.round(kib / 1024);
    });
  } finally {
    await Promise.all(pool.map((c) => c.close()));
    await cluster.stop();
  }

  const peer = opts.compare as Peer | undefined;
  const other = new Map<number, Measured>();
  if (peer !== undefined) {
    progress(`starting a 3-member ${peer} cluster...`);
    const d = await startPeer(peer, clients);
    try {
      await d.load(keys, value);
      const op = (c: number, read: boolean, key: number) =>
        d.op(c, read, key, value).then(() => {});
      await closedLoop(clients, Math.min(1, seconds / 4), 0.5, keys, op); // warm-up
      for (const reads of fractions) {
        progress(`${peer}: ${Math.round(reads * 100)}% reads, ${clients} clients, ${seconds} s`);
        other.set(reads, await closedLoop(clients, seconds, reads, keys, op));
      }
    } finally {
      await d.stop();
    }
  }

  const results: Row[] = fractions.map((reads) => {
    const t = tessera.get(reads)!;
    const e = other.get(reads);
    return {
      readFraction: reads,
      tessera: t,
      ...(e && peer === 'etcd' ? { etcd: { ...e, ratio: t.opsPerSecond / e.opsPerSecond } } : {}),
      ...(e && peer === 'zookeeper'
        ? { zookeeper: { ...e, ratio: t.opsPerSecond / e.opsPerSecond } }
        : {}),
    };
  });
  return {
    benchmark: 'lock',
    machine: `${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown cpu'}, node ${process.version}`,
    command: `tessera bench lock ${process.argv.slice(4).join(' ')}`.trim(),
    clients,
    seconds,
    keys,
    valueBytes,
    cluster: '3 tessera lock replicas on loopback (Raft log fsync on), clients to the leader',
    /** Peak resident memory of each replica (VmHWM), null where unknown. */
    peakRssMiB,
    ...(peer !== undefined ? { compare: peer } : {}),
    comparison: comparisonText(peer),
    results,
  };
}

/** Starts `peer` as a local 3-member cluster and returns how to drive the bench load on it. */
async function startPeer(peer: Peer, clients: number): Promise<PeerDriver> {
  switch (peer) {
    case 'etcd': {
      const e = await startEtcd(clients);
      return {
        load: (keys, value) => parallel(keys, clients, (i) => e.put(keyName(i), value)),
        op: (_c, read, key, value) => (read ? e.get(keyName(key)) : e.put(keyName(key), value)),
        stop: () => e.stop(),
      };
    }
    case 'zookeeper': {
      const z = await startZooKeeper(clients);
      return {
        load: async (keys, value) => {
          await z.create(0, '/bench', new Uint8Array());
          await parallel(keys, clients, (i) => z.create(i % clients, keyName(i), value));
        },
        op: (c, read, key, value) =>
          read ? z.get(c, keyName(key)) : z.put(c, keyName(key), value),
        stop: () => z.stop(),
      };
    }
    default:
      throw new Error(`unknown peer ${String(peer)}`);
  }
}

function comparisonText(peer: Peer | undefined): string {
  switch (peer) {
    case 'etcd':
      return `etcd ${etcdVersion()}, 3 members on loopback (fsync on), HTTP/JSON gateway to the leader`;
    case 'zookeeper':
      return (
        `ZooKeeper ${zookeeperVersion()}, 3 servers on loopback (forceSync=yes), one session per ` +
        "client spread round-robin over the servers; getData is served by the client's own " +
        'server (not linearizable, unlike the tessera and etcd reads), setData goes through the leader'
      );
    case undefined:
      return 'not run (--compare etcd|zookeeper)';
  }
}

function printTable(report: Awaited<ReturnType<typeof runLockBench>>): void {
  const peer = report.compare ?? 'etcd';
  const out: string[] = [];
  out.push(`tessera bench lock — ${report.machine}`);
  out.push(
    `${report.clients} clients, ${report.keys} nodes of ${report.valueBytes} B, ${report.seconds} s per row; ${report.cluster}`,
  );
  const num = (n: number, w: number) => Math.round(n).toString().padStart(w);
  const ms = (n: number) => n.toFixed(2).padStart(7);
  const head = `${peer} ops/s`;
  out.push(
    `${'reads'.padStart(5)} ${'ops/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'errs'.padStart(4)}` +
      ` | ${head.padStart(15)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'errs'.padStart(4)} ${'ratio'.padStart(6)}`,
  );
  for (const r of report.results) {
    const t = r.tessera;
    const o = r[peer];
    const e = o
      ? `${num(o.opsPerSecond, 15)} ${ms(o.p50Ms)} ${ms(o.p99Ms)} ${num(o.errors, 4)} ${o.ratio.toFixed(2).padStart(6)}`
      : 'n/a';
    out.push(
      `${`${Math.round(r.readFraction * 100)}%`.padStart(5)} ${num(t.opsPerSecond, 8)} ${ms(t.p50Ms)} ${ms(t.p99Ms)} ${num(t.errors, 4)} | ${e}`,
    );
  }
  for (const r of report.results) {
    if (r.tessera.firstError)
      out.push(`${r.readFraction * 100}% reads, tessera error: ${r.tessera.firstError}`);
    const o = r[peer];
    if (o?.firstError) out.push(`${r.readFraction * 100}% reads, ${peer} error: ${o.firstError}`);
  }
  out.push(
    `peak RSS of the tessera replicas: ${report.peakRssMiB.map((m) => (m === null ? '?' : `${m} MiB`)).join(' / ')}`,
  );
  out.push(`comparison: ${report.comparison}; ratio = tessera ops/s ÷ ${peer} ops/s`);
  process.stdout.write(`${out.join('\n')}\n`);
}
