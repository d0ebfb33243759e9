/**
 * Prometheus metrics for server processes (docs/observability.md lists every metric).
 *
 * Lower layers know nothing of prom-client: the RPC server takes an `RpcObserver`, the store an
 * `onWalSync` hook and a synchronous `gauges()` snapshot, the lock replica a `status()`. This
 * module turns those into metrics of one prom-client Registry per process, read at scrape time,
 * and serves them over HTTP at GET /metrics.
 *
 * Typical wiring (node-command.ts):
 *
 *   const registry = createRegistry(name);
 *   const rpc = rpcMetrics(registry);                  // RpcServerOptions.observer
 *   const store = storeMetrics(registry, () => samples()); // samples: StoreSample[] per table
 *   //   each Store opened with { onWalSync: store.walSyncObserver(table) }
 *   const metrics = await startMetricsServer(registry, host, port);
 *   // print metrics.address in the ready line; await metrics.close() on shutdown
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StoreGauges, StoreStats } from '../storage/index.js';
import { LocalHistogram } from './local-histogram.js';
import type { RpcObserver, RpcOutcome } from '../wire/index.js';

export const METRICS_PREFIX = 'tessera_';
export const METRICS_PATH = '/metrics';

/** Latency buckets in seconds, 50 µs to 5 s (RPC and fsync latencies both fall in this range). */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
  5,
];

/**
 * A registry for one process, with Node's default process metrics (`tessera_process_*`,
 * `tessera_nodejs_*`) and a `proc` label (the process's name, e.g. "node1") on every series.
 */
export function createRegistry(proc: string, options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ proc });
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry, prefix: METRICS_PREFIX });
  }
  return registry;
}

// ---------------------------------------------------------------------------------------------
// RPC

/**
 * An RpcServer observer (RpcServerOptions.observer) feeding
 * `tessera_rpc_requests_total{method,outcome}` and
 * `tessera_rpc_request_duration_seconds{method}`. Several servers in one process may share it.
 */
export function rpcMetrics(registry: Registry): RpcObserver {
  // Counted here and handed to prom-client at scrape time: a labelled Counter's inc() hashes
  // its labels on every call, which cost ~1% of a loaded node's time (one inc per request).
  const counts = new Map<string, Map<RpcOutcome, { n: number }>>();
  new Counter({
    name: `${METRICS_PREFIX}rpc_requests_total`,
    help: 'RPC requests ended, by method and outcome (ok or the error code sent)',
    labelNames: ['method', 'outcome'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [method, byOutcome] of counts) {
        for (const [outcome, c] of byOutcome) this.inc({ method, outcome }, c.n);
      }
    },
  });
  // One observation per request: counted in plain arrays (local-histogram.ts). Method names
  // are bounded: the server reports unknown ones as one label.
  const duration = new LocalHistogram({
    name: `${METRICS_PREFIX}rpc_request_duration_seconds`,
    help: 'Time from reading an RPC request to its end (answer, error, cancel or close)',
    labelName: 'method',
    buckets: LATENCY_BUCKETS_SECONDS,
    registers: [registry],
  });
  return {
    onCall(method: string, micros: number, outcome: RpcOutcome): void {
      let byOutcome = counts.get(method);
      if (byOutcome === undefined) {
        byOutcome = new Map();
        counts.set(method, byOutcome);
      }
      let count = byOutcome.get(outcome);
      if (count === undefined) {
        count = { n: 0 };
        byOutcome.set(outcome, count);
      }
      count.n++;
      duration.observe(method, micros / 1e6);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Storage

/** One store (one table's, or one tablet's) as seen at scrape time. */
export interface StoreSample {
  /** The `table` label: the table (or tablet) name. Samples with equal names are summed. */
  readonly table: string;
  /** Store.gauges(). */
  readonly gauges: StoreGauges;
  /** Store.stats, when available: adds the byte and work counters. */
  readonly stats?: Readonly<StoreStats>;
}

export interface StoreMetrics {
  /**
   * The `onWalSync` hook for the store(s) of `table` (StoreOptions.onWalSync): feeds
   * `tessera_wal_fsync_duration_seconds{table}`.
   */
  walSyncObserver(table: string): (micros: number) => void;
}

/** Fields of StoreGauges that only grow: exported as counters. */
type CounterGaugeField = 'walSyncs' | 'blockCacheHits' | 'blockCacheMisses';
type GaugeField = Exclude<keyof StoreGauges, CounterGaugeField>;
type StatsField = Exclude<keyof StoreStats, 'walSyncs'>;

const storeGaugeDefs: readonly (readonly [GaugeField, string, string])[] = [
  ['memtableBytes', 'memtable_bytes', 'Bytes in the active and frozen memtables'],
  ['frozenMemtables', 'frozen_memtables', 'Frozen memtables waiting for their flush'],
  ['l0Files', 'l0_files', 'Level-0 files (leveled) or runs (tiered)'],
  ['tableBytes', 'sstable_bytes', 'Bytes in table files, all levels'],
  [
    'compactionPendingBytes',
    'compaction_pending_bytes',
    'Compaction backlog: bytes beyond the targets of levels due for compaction',
  ],
  ['compactionScore', 'compaction_score', 'Highest level score; >= 1 means compaction is due'],
  ['blockCacheBytes', 'block_cache_bytes', 'Bytes of blocks held in the block cache'],
  [
    'blockCacheCapacityBytes',
    'block_cache_capacity_bytes',
    'Block cache capacity: the memory budget less what the memtables allocated and the index/filter reserve',
  ],
];

const storeGaugeCounterDefs: readonly (readonly [CounterGaugeField, string, string])[] = [
  ['walSyncs', 'wal_syncs_total', 'WAL fsyncs finished since the store opened'],
  ['blockCacheHits', 'block_cache_hits_total', 'Block lookups served from the block cache'],
  ['blockCacheMisses', 'block_cache_misses_total', 'Block lookups that read the table file'],
];

const storeCounterDefs: readonly (readonly [StatsField, string, string, number])[] = [
  ['userBytes', 'store_user_bytes_total', 'Bytes of keys and values written', 1],
  ['walBytes', 'wal_bytes_total', 'Bytes appended to the WAL', 1],
  ['flushBytes', 'flush_bytes_total', 'Bytes written by memtable flushes', 1],
  ['compactionBytes', 'compaction_bytes_total', 'Bytes written by compactions', 1],
  ['flushes', 'flushes_total', 'Memtable flushes finished', 1],
  ['compactions', 'compactions_total', 'Compactions finished', 1],
  ['stallMicros', 'write_stall_seconds_total', 'Time writers waited on back-pressure', 1e-6],
];

/**
 * Collect-time store metrics: each scrape calls `samples()` once and reports every store it
 * returns under its `table` label (a table no longer returned disappears). The WAL fsync
 * histogram is fed by the hooks from `walSyncObserver`.
 */
export function storeMetrics(
  registry: Registry,
  samples: () => Iterable<StoreSample>,
): StoreMetrics {
  // One samples() call per scrape, shared by every metric of the scrape (each collects in turn).
  let cached: StoreSample[] | undefined;
  const current = (): StoreSample[] => {
    if (cached === undefined) {
      cached = [...samples()];
      void Promise.resolve().then(() => (cached = undefined));
    }
    return cached;
  };
  // One series per store, labelled by table, its value read from the samples at scrape time.
  const perTable = (
    kind: 'gauge' | 'counter',
    name: string,
    help: string,
    value: (s: StoreSample) => number | undefined,
  ): void => {
    const config = {
      name: `${METRICS_PREFIX}${name}`,
      help,
      labelNames: ['table'] as const,
      registers: [registry],
    };
    const fill = (m: { reset(): void; inc(labels: { table: string }, v: number): void }): void => {
      m.reset();
      for (const s of current()) {
        const v = value(s);
        if (v !== undefined) m.inc({ table: s.table }, v);
      }
    };
    if (kind === 'gauge') {
      new Gauge({
        ...config,
        collect() {
          fill(this);
        },
      });
    } else {
      new Counter({
        ...config,
        collect() {
          fill(this);
        },
      });
    }
  };
  for (const [field, name, help] of storeGaugeDefs) {
    perTable('gauge', name, help, (s) => s.gauges[field]);
  }
  for (const [field, name, help] of storeGaugeCounterDefs) {
    perTable('counter', name, help, (s) => s.gauges[field]);
  }
  for (const [field, name, help, scale] of storeCounterDefs) {
    perTable('counter', name, help, (s) =>
      s.stats === undefined ? undefined : s.stats[field] * scale,
    );
  }
  const fsync = new Histogram({
    name: `${METRICS_PREFIX}wal_fsync_duration_seconds`,
    help: "Duration of WAL fsyncs: a commit group's write and fsync, timed together",
    labelNames: ['table'] as const,
    buckets: [...LATENCY_BUCKETS_SECONDS],
    registers: [registry],
  });
  return {
    walSyncObserver(table: string) {
      const child = fsync.labels(table);
      return (micros: number) => child.observe(micros / 1e6);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Raft

/** What raftMetrics reads; consensus's RaftStatus (LockReplica.status()) has these fields. */
export interface RaftSample {
  readonly id: number;
  readonly role: string;
  readonly term: number;
  readonly leader: number;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex?: number;
}

/**
 * Collect-time gauges of one Raft replica in this process, labelled `group` (default "lock",
 * the lock service's group): term, commit, applied and last index, leader id (0: none known),
 * whether this replica leads, and its own id. While `status()` returns undefined (not started,
 * or stopped) the series are absent.
 */
export function raftMetrics(
  registry: Registry,
  status: () => RaftSample | undefined,
  options: { readonly group?: string } = {},
): void {
  const group = options.group ?? 'lock';
  const gauge = (name: string, help: string, read: (s: RaftSample) => number | undefined) =>
    new Gauge({
      name: `${METRICS_PREFIX}raft_${name}`,
      help,
      labelNames: ['group'] as const,
      registers: [registry],
      collect() {
        this.reset();
        const s = status();
        const v = s === undefined ? undefined : read(s);
        if (v !== undefined) this.set({ group }, v);
      },
    });
  gauge('term', 'Current Raft term', (s) => s.term);
  gauge('commit_index', 'Highest log index known committed', (s) => s.commit);
  gauge('applied_index', 'Highest log index applied to the state machine', (s) => s.applied);
  gauge('last_index', 'Last index in the Raft log', (s) => s.lastIndex);
  gauge('leader_id', 'Id of the leader as this replica knows it (0: none)', (s) => s.leader);
  gauge('is_leader', '1 when this replica is the leader, else 0', (s) =>
    s.role === 'leader' ? 1 : 0,
  );
  gauge('replica_id', 'Id of this replica', (s) => s.id);
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface MetricsServer {
  /** The bound address as `host:port` (port 0 asked: the one picked). */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** `http://host:port/metrics` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves `registry` at GET (or HEAD) /metrics in Prometheus's text format; 404 for any other
 * path, 405 for other methods on /metrics. Port 0 picks a free port.
 */
export async function startMetricsServer(
  registry: Registry,
  host: string,
  port: number,
): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    void serve(registry, req, res);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const hostPart = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  const address = `${hostPart}:${bound.port}`;
  return {
    address,
    host: bound.address,
    port: bound.port,
    url: `http://${address}${METRICS_PATH}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function serve(registry: Registry, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== METRICS_PATH) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res
      .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
      .end('method not allowed\n');
    return;
  }
  try {
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (err) {
    res
      .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
      .end(`metrics failed: ${(err as Error).message}\n`);
  }
}
