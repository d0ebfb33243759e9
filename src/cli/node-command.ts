import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { Command, InvalidArgumentError } from 'commander';
import { startNodeService } from '../api/index.js';
import { formatAddress, parseAddress } from '../env/index.js';
import { realEnv } from '../env/real/index.js';
import { Database, type TableStoreSample } from '../model/index.js';
import { DATACENTER_DEFAULT, RACK_DEFAULT, VNODES_DEFAULT, VNODES_MAX } from '../ring/index.js';
import type { WalSyncMode } from '../storage/index.js';
import { logEvent } from './log.js';
import { createRegistry, rpcMetrics, startMetricsServer, storeMetrics } from './metrics.js';

/** With `--sync interval`: how often the WAL is fsynced. */
const syncIntervalMs = 100;
/**
 * `--memory-mb` bounds the whole process, so part of it is kept for what the stores do not
 * account for: Node itself (an idle node is about 92 MiB of RSS: 48 MiB of mapped binary, 44
 * MiB of heap), the heap's growth under load, socket buffers, requests in flight. Measured on
 * YCSB A–F (docs/benchmarks.md): with 256 MiB for its stores a node peaked at 335–375 MiB, and
 * 416 under E (a scan-heavy load at 1,500 scans/s lets V8 grow its heap to ~110 MiB between
 * major GCs); with 224 MiB at 296–352 MiB, and at 320–354 MiB once the block cache borrowed
 * unused memtable room (storage/store.ts) and V8's heap growth was fixed (below).
 */
const runtimeReserveMb = 160;
/**
 * V8 sizes its old generation after each major GC as what survived times a factor it picks
 * from GC and allocation speed (1.1 to 4). Under a scan-heavy load (YCSB E) it picked large
 * ones and the heap reached 108–113 MiB between major GCs, taking the node past its budget
 * (peak RSS 382–393 MiB of 384); a fixed factor of 2 kept it at ~85 MiB (peak 365) with the
 * same throughput. Under A–D the major GCs are started by external memory (blocks, memtable
 * chunks) rather than this limit, and ran as often either way.
 */
const v8HeapGrowingPercent = 100;
const memoryMbDefault = 384;
const memoryMbMin = runtimeReserveMb + 32;

function parseSync(v: string): 'always' | 'interval' {
  if (v !== 'always' && v !== 'interval') {
    throw new InvalidArgumentError("expected 'always' or 'interval'");
  }
  return v;
}

function parseVnodes(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > VNODES_MAX) {
    throw new InvalidArgumentError(`expected an integer in [1, ${VNODES_MAX}]`);
  }
  return n;
}

function parsePhi(v: string): number {
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a positive number');
  return n;
}

/** Longest timer a flag may set: Node's timers take at most 2^31 - 1 ms (about 24.8 days). */
const timerMsMax = 2 ** 31 - 1;
const durationUnitsMs: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * A duration flag's value in milliseconds: `3h`, `30m`, `10s`, `1.5s`, `500ms`, or a plain
 * number of milliseconds; commander's error when it is not one, or outside [minMs, maxMs].
 */
export function parseDurationMs(v: string, minMs = 0, maxMs = Number.MAX_SAFE_INTEGER): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$/.exec(v.trim());
  const ms = m === null ? Number.NaN : Math.round(Number(m[1]) * durationUnitsMs[m[2] ?? 'ms']!);
  if (!Number.isSafeInteger(ms) || ms < minMs || ms > maxMs) {
    const range = minMs > 0 ? `at least ${minMs} ms` : 'not negative';
    throw new InvalidArgumentError(
      `expected a duration such as 3h, 30m, 10s or 500ms (plain numbers are ms), ${range}` +
        (maxMs < Number.MAX_SAFE_INTEGER ? ` and at most ${maxMs} ms` : ''),
    );
  }
  return ms;
}

/** A probability in [0, 1] (`--read-repair-chance`). */
export function parseChance(v: string): number {
  const n = v.trim() === '' ? Number.NaN : Number(v);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('expected a number from 0 to 1');
  return n;
}

/** `--stream-rate` in MiB/s as bytes per second; 0 is unlimited. */
export function parseStreamRate(v: string): number {
  const n = v.trim() === '' ? Number.NaN : Number(v);
  const bytes = Math.round(n * 1024 * 1024);
  if (!(n >= 0) || !Number.isSafeInteger(bytes)) {
    throw new InvalidArgumentError('expected MiB per second, a number >= 0 (0: unlimited)');
  }
  return bytes;
}

function parseMemoryMb(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < memoryMbMin) {
    throw new InvalidArgumentError(`expected an integer >= ${memoryMbMin}`);
  }
  return n;
}

/**
 * `tessera node --listen HOST:PORT --dir DIR` — one serving node as a real process, serving
 * the tables of the Database in DIR. On start it prints one JSON line to stdout,
 * `{"event":"ready","address":"…","pid":…}`, which `tessera local` and tests wait for; it stops
 * cleanly on SIGTERM or SIGINT (the service first, then the database).
 *
 * `--sync always` (the default) fsyncs the WAL before a write is acknowledged; `--sync
 * interval` fsyncs every 100 ms, so a machine crash may lose the last 100 ms of acknowledged
 * writes. `--memory-mb` is the node's memory budget: 160 MiB of it is kept for the runtime,
 * the rest (224 MiB by default) is shared by its tables' stores.
 *
 * With `--ring` the node joins a hashed-table ring (docs/ring.md); the other ring flags go to
 * RingNodeOptions: `--bootstrap` for a node added to a ring that holds data (it streams its
 * ranges before serving them), `--hint-window`, `--read-repair-chance`, `--repair-interval`,
 * `--stream-rate` and `--ring-delay` (docs/cli.md). They are refused without `--ring`.
 */
export function nodeCommand(): Command {
  return new Command('node')
    .description('run a serving node (native protocol)')
    .option('--listen <address>', 'address to listen on (port 0 picks one)', '127.0.0.1:7701')
    .option('--dir <path>', 'data directory', './data/node')
    .option('--name <name>', 'node name for logs and ping', 'node')
    .option('--sync <mode>', 'WAL durability: always | interval', parseSync, 'always')
    .option(
      '--memory-mb <n>',
      'memory budget of the node process in MiB (160 MiB of it kept for the runtime)',
      parseMemoryMb,
      memoryMbDefault,
    )
    .option(
      '--metrics <address>',
      'HOST:PORT serving /metrics (default: the --listen host, port 0)',
    )
    .option('--ring', 'join a hashed-table ring (gossip, coordinator); see --seeds')
    .option(
      '--seeds <addresses>',
      'comma-separated HOST:PORT of seed ring nodes (with --ring; default: this node)',
    )
    .option('--datacenter <name>', 'ring datacenter of this node', DATACENTER_DEFAULT)
    .option('--rack <name>', 'ring rack of this node', RACK_DEFAULT)
    .option(
      '--vnodes <n>',
      `tokens this node takes on its first start (default ${VNODES_DEFAULT})`,
      parseVnodes,
    )
    .option('--phi-threshold <phi>', 'phi above which a ring peer is down (default 8)', parsePhi)
    .option(
      '--bootstrap',
      'new node joining a ring that holds data: stream its ranges before serving them',
    )
    .option(
      '--hint-window <duration>',
      'keep hints for a down replica this long, e.g. 3h, 30m, 10s, 500ms (default 3h)',
      (v: string) => parseDurationMs(v, 1),
    )
    .option(
      '--read-repair-chance <p>',
      'chance (0..1) that a read below ALL repairs the row in the background (default 0.1)',
      parseChance,
    )
    .option(
      '--repair-interval <duration>',
      'repair the ranges this node is first replica of this often, e.g. 24h (default: never)',
      (v: string) => parseDurationMs(v, 1, timerMsMax),
    )
    .option(
      '--stream-rate <MiB/s>',
      'repair and range-movement reading and streaming rate of this node, 0 = unlimited (default 16)',
      parseStreamRate,
    )
    .option(
      '--ring-delay <duration>',
      'time for a ring change to reach every node by gossip before relying on it (default 5s)',
      (v: string) => parseDurationMs(v, 0, timerMsMax),
    )
    .action(
      async (
        opts: {
          listen: string;
          dir: string;
          name: string;
          sync: 'always' | 'interval';
          memoryMb: number;
          metrics?: string;
          ring?: boolean;
          seeds?: string;
          datacenter: string;
          rack: string;
          vnodes?: number;
          phiThreshold?: number;
          bootstrap?: boolean;
          hintWindow?: number;
          readRepairChance?: number;
          repairInterval?: number;
          streamRate?: number;
          ringDelay?: number;
        },
        command: Command,
      ) => {
        const ringOnly = {
          '--bootstrap': opts.bootstrap,
          '--hint-window': opts.hintWindow,
          '--read-repair-chance': opts.readRepairChance,
          '--repair-interval': opts.repairInterval,
          '--stream-rate': opts.streamRate,
          '--ring-delay': opts.ringDelay,
        };
        const given = Object.keys(ringOnly).filter(
          (k) => ringOnly[k as keyof typeof ringOnly] !== undefined,
        );
        if (opts.ring !== true && given.length > 0) {
          command.error(
            `error: ${given.join(', ')} ${given.length === 1 ? 'needs' : 'need'} --ring`,
          );
        }
        setFlagsFromString(`--heap-growing-percent=${v8HeapGrowingPercent}`);
        const dir = resolve(opts.dir);
        mkdirSync(dir, { recursive: true });
        const env = realEnv({ name: opts.name, root: dir });
        const wal: WalSyncMode =
          opts.sync === 'always'
            ? { sync: 'always' }
            : { sync: 'interval', intervalMs: syncIntervalMs };
        const registry = createRegistry(opts.name);
        let samples: () => Iterable<TableStoreSample> = () => [];
        const stores = storeMetrics(registry, () => samples());
        const database = await Database.open(env, {
          dir: '/',
          store: { wal, memoryBudgetBytes: (opts.memoryMb - runtimeReserveMb) * 1024 * 1024 },
          onWalSync: (table) => stores.walSyncObserver(table),
        });
        samples = () => database.storeSamples();
        const listen = parseAddress(opts.listen);
        const ring =
          opts.ring === true
            ? {
                name: opts.name,
                dir: '/ring',
                seeds: (opts.seeds ?? '')
                  .split(',')
                  .map((s) => s.trim())
                  .filter((s) => s !== '')
                  .map((s) => formatAddress(parseAddress(s))),
                datacenter: opts.datacenter,
                rack: opts.rack,
                ...(opts.vnodes === undefined ? {} : { vnodes: opts.vnodes }),
                ...(opts.phiThreshold === undefined ? {} : { phiThreshold: opts.phiThreshold }),
                ...(opts.bootstrap === true ? { bootstrap: true } : {}),
                ...(opts.hintWindow === undefined ? {} : { hintWindowMs: opts.hintWindow }),
                ...(opts.readRepairChance === undefined
                  ? {}
                  : { coordinator: { readRepairChance: opts.readRepairChance } }),
                ...(opts.repairInterval === undefined
                  ? {}
                  : { repairIntervalMs: opts.repairInterval }),
                ...(opts.streamRate === undefined
                  ? {}
                  : { streamRateBytesPerSec: opts.streamRate }),
                ...(opts.ringDelay === undefined ? {} : { ringDelayMs: opts.ringDelay }),
              }
            : undefined;
        const node = await startNodeService(env, {
          name: opts.name,
          listen,
          database,
          rpc: { observer: rpcMetrics(registry) },
          ...(ring === undefined ? {} : { ring }),
        }).catch(async (err: unknown) => {
          await database.close().catch(() => undefined);
          throw err;
        });
        const m = opts.metrics === undefined ? { ...listen, port: 0 } : parseAddress(opts.metrics);
        const metricsServer = await startMetricsServer(registry, m.host, m.port);
        const address = formatAddress(node.address);
        const ready = {
          event: 'ready',
          address,
          metrics: metricsServer.address,
          pid: process.pid,
          ...(node.ring === undefined ? {} : { ring: true }),
        };
        process.stdout.write(`${JSON.stringify(ready)}\n`);
        logEvent(opts.name, 'ready', { address, dir, sync: opts.sync, memoryMb: opts.memoryMb });
        await new Promise<void>((done) => {
          const stop = (signal: string) => {
            logEvent(opts.name, 'stopping', { signal });
            metricsServer
              .close()
              .catch(() => undefined)
              .then(() => node.close())
              .catch((err: unknown) => logEvent(opts.name, 'error', { error: String(err) }))
              .then(() => database.close())
              .catch((err: unknown) => logEvent(opts.name, 'error', { error: String(err) }))
              .then(done, done);
          };
          process.once('SIGTERM', () => stop('SIGTERM'));
          process.once('SIGINT', () => stop('SIGINT'));
        });
        logEvent(opts.name, 'stopped');
      },
    );
}
