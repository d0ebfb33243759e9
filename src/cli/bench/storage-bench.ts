/**
 * `tessera bench storage`: the storage engine under LevelDB's db_bench workloads, optionally
 * side by side with LevelDB itself (classic-level) in the same run.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir, totalmem, type as osType, release as osRelease } from 'node:os';
import { join } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Compression, CompactionStyle } from '../../storage/options.js';
import { Prng } from '../../util/prng.js';
import { LatencyHistogram } from './histogram.js';
import { LevelDbEngine, loadClassicLevel } from './leveldb-peer.js';
import { TesseraEngine, type BenchEngine, type LevelInfo } from './storage-engine.js';
import {
  compressionRatio,
  defaultSeed,
  formatKey,
  keyDigits,
  permutationOrder,
  sequentialOrder,
  uniformOrder,
  ValueSource,
} from './storage-workload.js';

/** The benchmarks, in db_bench's order (the default list runs all of them in this order). */
const BENCHMARKS = [
  'fillseq',
  'fillrandom',
  'overwrite',
  'readrandom',
  'readrandom-cold',
  'readseq',
  'seekrandom',
  'deleterandom',
] as const;
type BenchName = (typeof BENCHMARKS)[number];

/** Benchmarks that write: after them the memtable is flushed (timed apart) and w-amp measured. */
const WRITES: ReadonlySet<BenchName> = new Set([
  'fillseq',
  'fillrandom',
  'overwrite',
  'deleterandom',
]);
/** Benchmarks that start from a new, empty store. */
const FRESH: ReadonlySet<BenchName> = new Set(['fillseq', 'fillrandom']);

const MiB = 1024 * 1024;

interface StorageBenchOptions {
  compare?: 'leveldb';
  json?: boolean;
  num?: number;
  keyBytes: number;
  valueBytes: number;
  benchmarks: string;
  compression: Compression;
  compaction: CompactionStyle;
  sync?: boolean;
  memoryMb: number;
  seed: number;
  dir?: string;
  keep?: boolean;
}

export interface WriteResult {
  /** Milliseconds of the flush after the timed ops (Tessera: store.flush(); LevelDB: CompactRange). */
  readonly flushMs: number;
  /** Key + value bytes the benchmark wrote (keys only for deletes). */
  readonly userBytes: number;
  /** Bytes the engine wrote during the benchmark and its flush: WAL + flushes + compactions. */
  readonly bytesWritten: number;
  readonly writeAmp: number | null;
  /** False when the engine rounds or estimates bytesWritten (LevelDB). */
  readonly writeAmpExact: boolean;
  /** Bytes of all files in the store's directory after the flush. */
  readonly diskBytes: number;
  /** diskBytes split by kind: tables (.sst, .ldb), write-ahead logs (.wal, .log), the rest. */
  readonly disk: DiskUsage;
  readonly levels: readonly LevelInfo[];
}

export interface EngineResult {
  readonly ops: number;
  /** Operations that found their key (reads) or were applied (writes). */
  readonly found: number;
  readonly seconds: number;
  readonly opsPerSec: number;
  /** MiB/s of key + value bytes (db_bench's "MB/s"). */
  readonly mbPerSec: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
  /** Milliseconds to open the store before the benchmark (untimed). */
  readonly openMs: number;
  /** True when no earlier benchmark left a filled store and an untimed fillrandom made one. */
  readonly prefilled: boolean;
  readonly write?: WriteResult;
  /** The engine's memory account at the end of the benchmark. */
  readonly memory: Record<string, number>;
  /** Engine counters since open (Tessera: store.stats). */
  readonly counters: Record<string, number>;
  readonly rssMiB: number;
}

export interface BenchmarkResult {
  readonly name: BenchName;
  readonly tessera: EngineResult;
  readonly leveldb?: EngineResult;
  /** Tessera ops/s ÷ LevelDB ops/s. */
  readonly ratio?: number;
}

const helpText = `
Workloads (db_bench's, single-threaded, one operation awaited at a time):
  fillseq          put keys 0..num-1 in order into a new, empty store
  fillrandom       put every key once in random order into a new, empty store
  overwrite        put num random keys (with replacement) over the existing store
  readrandom       get num random keys, after an untimed full scan warmed the block cache
  readrandom-cold  the same, right after the store was closed and reopened: the block cache
                   starts empty (the OS page cache stays warm; nothing drops it)
  readseq          one scan over the whole store, in key order
  seekrandom       num scans of one row starting at a random key (LevelDB: a new iterator
                   with gte and limit 1 per seek, as db_bench's Seek)
  deleterandom     delete num random keys (with replacement); Tessera: deleteRow
  Benchmarks run in the order given. A benchmark that needs data when no fill ran before it
  gets an untimed fillrandom first ("prefilled" in --json).

Data: keys are --key-bytes ASCII digits (the zero-padded index, like db_bench's %016d);
values are --value-bytes of db_bench's generator with compression ratio 0.5 (half random
printable bytes, half repeats), all from a PRNG seeded with --seed. Tessera maps a key to
row = key, family "d" (maxVersions 1, so overwritten versions can be compacted away like
LevelDB's), empty qualifier, timestamp = an increasing counter.

Durability: by default writes are not fsynced one by one (db_bench's default): Tessera's WAL
syncs every 1000 ms, LevelDB writes with sync:false. With --sync both fsync every write, and
--num defaults to 10,000 instead of 1,000,000.

Memory: Tessera gets --memory-mb as its budget; LevelDB gets a write buffer the size of
Tessera's memtable and a block cache the size of Tessera's block cache share. Other LevelDB
options are its defaults (bloom filter of 10 bits per key, as Tessera).

Order with --compare leveldb: interleaved per benchmark (Tessera, then LevelDB), each engine's
store opened before its benchmark and closed after it, so one engine's background work never
overlaps the other's measurement. Opening is not timed. Compactions left running by a write
benchmark are abandoned at the close and picked up again after the next open, so the reads
that follow writes share the machine with that compaction debt (as in db_bench).

Output columns (one line per benchmark; "n/a" without --compare):
  ops/s            operations per second of the timed operations only
  MB/s             MiB (2^20 bytes) per second of key + value bytes (keys only for deletes)
  p50 µs, p99 µs   latency of one operation (HDR histogram; readseq: one step of the scan)
  ratio            Tessera ops/s ÷ LevelDB ops/s (above 1: Tessera is faster)
After write benchmarks (second table), measured after the memtable was flushed (the flush is
timed apart, "flush ms"; LevelDB: CompactRange over an empty range, which flushes):
  w-amp            (WAL + flush + compaction bytes written) ÷ key+value bytes written. Tessera:
                   from store.stats; LevelDB: leveldb.stats (whole MiB per level, so "~") plus
                   its log bytes computed from the log format. Compactions still running at
                   the store's close are abandoned and not counted, for both engines.
  disk MiB         sum of the file sizes in the store's directory
  logs MiB         the part of it in write-ahead logs (Tessera .wal, LevelDB .log)
  files            table files (all levels)
The last lines give each engine's own memory account at the end of the benchmark where it
was largest (memtables are empty after a flush; reads fill the block cache), the peak RSS
of the process (both engines share it), and the machine. --json prints one object with the
machine, the parameters and every figure above (plus level shapes and engine counters).

Stores go in a new directory under the OS temp directory (or under --dir) that is removed at
the end unless --keep.`;

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v.replace(/[_,]/g, ''));
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new InvalidArgumentError(`${name} must be a positive integer`);
    }
    return n;
  };
}

export function storageBenchCommand(): Command {
  return new Command('storage')
    .description("the storage engine under LevelDB's db_bench workloads (vs LevelDB itself)")
    .addOption(
      new Option('--compare <peer>', 'run the same benchmarks on LevelDB (classic-level)').choices([
        'leveldb',
      ]),
    )
    .option('--json', 'print results as JSON')
    .option(
      '--num <n>',
      'keys, and operations per benchmark (default: 1000000; 10000 with --sync)',
      positiveInt('--num'),
    )
    .option('--key-bytes <n>', 'key length', positiveInt('--key-bytes'), 16)
    .option('--value-bytes <n>', 'value length', positiveInt('--value-bytes'), 100)
    .option('--benchmarks <list>', 'comma-separated benchmarks, run in order', BENCHMARKS.join(','))
    .addOption(
      new Option(
        '--compression <c>',
        "table block compression, both engines (default none, the store's default: db_bench's " +
          'snappy would compare a JS compressor with a C++ one, not the engines)',
      )
        .choices(['none', 'snappy'])
        .default('none'),
    )
    .addOption(
      new Option('--compaction <style>', "Tessera's compaction style (LevelDB is leveled)")
        .choices(['leveled', 'tiered'])
        .default('leveled'),
    )
    .option('--sync', 'fsync every write (both engines)')
    .option(
      '--memory-mb <n>',
      "Tessera's memory budget; LevelDB gets the same memtable and cache",
      positiveInt('--memory-mb'),
      256,
    )
    .option('--seed <n>', 'seed of keys and values', positiveInt('--seed'), defaultSeed)
    .option('--dir <path>', 'make the stores under this directory instead of the OS temp directory')
    .option('--keep', 'keep the stores after the run')
    .addHelpText('after', helpText)
    .action(async (opts: StorageBenchOptions) => {
      const timersBefore = activeTimers();
      const report = await runStorageBench(opts);
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else printReport(report);
      // Every store is closed now. A timer still running would keep Node alive for good (a store
      // that did not shut down cleanly, e.g. its WAL sync timer): say so, and end the process.
      const leftover = activeTimers() - timersBefore;
      if (leftover > 0) {
        process.stderr.write(
          `warning: ${leftover} timer(s) still active after every store was closed ` +
            '(a store did not shut down cleanly); exiting anyway\n',
        );
        await new Promise<void>((done) => process.stdout.write('', () => done()));
        process.exit(process.exitCode ?? 0);
      }
    });
}

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

function parseBenchmarks(list: string): BenchName[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const n of names) {
    if (!(BENCHMARKS as readonly string[]).includes(n)) {
      throw new Error(`unknown benchmark ${n} (known: ${BENCHMARKS.join(', ')})`);
    }
  }
  if (names.length === 0) throw new Error('--benchmarks names no benchmark');
  return names as BenchName[];
}

function machineInfo() {
  const cpu = cpus();
  return {
    cores: cpu.length,
    cpuModel: cpu[0]?.model.trim() ?? 'unknown cpu',
    node: process.version,
    os: `${osType()} ${osRelease()}`,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  };
}

export interface DiskUsage {
  tables: number;
  logs: number;
  other: number;
}

/** Sizes of the files under `dir`, by kind. */
function diskUsage(dir: string, into: DiskUsage = { tables: 0, logs: 0, other: 0 }): DiskUsage {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) diskUsage(p, into);
    else if (!e.isFile()) continue;
    else if (/\.(sst|ldb)$/.test(e.name)) into.tables += statSync(p).size;
    else if (/\.(wal|log)$/.test(e.name)) into.logs += statSync(p).size;
    else into.other += statSync(p).size;
  }
  return into;
}

async function runStorageBench(opts: StorageBenchOptions) {
  const benchmarks = parseBenchmarks(opts.benchmarks);
  const sync = opts.sync === true;
  const num = opts.num ?? (sync ? 10_000 : 1_000_000);
  if (opts.keyBytes < keyDigits(num)) {
    throw new Error(
      `--key-bytes ${opts.keyBytes} cannot hold the ${keyDigits(num)} digits of key ${num - 1}`,
    );
  }
  // Load the peer before creating anything, so a missing package fails fast.
  const ClassicLevel = opts.compare === 'leveldb' ? await loadClassicLevel() : undefined;

  if (opts.dir) mkdirSync(opts.dir, { recursive: true });
  const root = mkdtempSync(join(opts.dir ?? tmpdir(), 'tessera-bench-storage-'));
  const cleanup = () => {
    if (!opts.keep) rmSync(root, { recursive: true, force: true });
  };
  const onSigint = () => {
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSigint);

  const tessera = new TesseraEngine({
    root,
    seed: opts.seed,
    sync,
    memoryBudgetBytes: opts.memoryMb * MiB,
    compression: opts.compression,
    compactionStyle: opts.compaction,
  });
  const engines: BenchEngine[] = [tessera];
  if (ClassicLevel) {
    engines.push(
      new LevelDbEngine(ClassicLevel, {
        root,
        sync,
        compression: opts.compression !== 'none',
        cacheBytes: tessera.blockCacheBytes,
        writeBufferBytes: tessera.memtableBytes,
      }),
    );
  }

  const ctx: RunContext = {
    num,
    keyBytes: opts.keyBytes,
    valueBytes: opts.valueBytes,
    seed: opts.seed,
    progress: process.stderr.isTTY === true,
    rows: new Map(),
  };
  const results: BenchmarkResult[] = [];
  try {
    for (const [i, name] of benchmarks.entries()) {
      const byEngine: Partial<Record<'tessera' | 'leveldb', EngineResult>> = {};
      for (const engine of engines) {
        try {
          byEngine[engine.name] = await runBenchmark(engine, name, i, ctx);
        } finally {
          await engine.close();
        }
      }
      const t = byEngine.tessera!;
      const l = byEngine.leveldb;
      results.push({
        name,
        tessera: t,
        ...(l ? { leveldb: l, ratio: t.opsPerSec / l.opsPerSec } : {}),
      });
    }
  } finally {
    for (const e of engines) await e.close().catch(() => undefined);
    process.removeListener('SIGINT', onSigint);
    cleanup();
  }
  if (opts.keep) process.stderr.write(`stores kept in ${root}\n`);

  const machine = machineInfo();
  return {
    benchmark: 'storage',
    machine,
    machineLine: `${machine.cores} cores, ${machine.cpuModel}, node ${machine.node}`,
    parameters: {
      num,
      keyBytes: opts.keyBytes,
      valueBytes: opts.valueBytes,
      compressionRatio,
      benchmarks,
      compression: opts.compression,
      compaction: opts.compaction,
      sync,
      memoryBudgetMiB: opts.memoryMb,
      seed: opts.seed,
      dir: root,
      kept: opts.keep === true,
      order: ClassicLevel
        ? 'interleaved per benchmark: tessera, then leveldb; each store closed after its run'
        : 'tessera only',
      tessera: tessera.settings,
      leveldb: engines[1]?.settings ?? null,
    },
    results,
    peakRssMiB: Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10,
  };
}

interface RunContext {
  readonly num: number;
  readonly keyBytes: number;
  readonly valueBytes: number;
  readonly seed: number;
  readonly progress: boolean;
  /** Rows each engine's current store holds (absent: no filled store yet). */
  readonly rows: Map<string, number>;
}

/** The key order of a benchmark: the same for both engines (seeded by the benchmark's place). */
function keyOrder(name: BenchName, index: number, ctx: RunContext): Uint32Array {
  const prng = new Prng(ctx.seed * 1000 + index);
  switch (name) {
    case 'fillseq':
      return sequentialOrder(ctx.num);
    case 'fillrandom':
      return permutationOrder(ctx.num, prng);
    default:
      return uniformOrder(ctx.num, ctx.num, prng);
  }
}

function now(): number {
  return performance.now();
}

async function runBenchmark(
  engine: BenchEngine,
  name: BenchName,
  index: number,
  ctx: RunContext,
): Promise<EngineResult> {
  const label = `${engine.name} ${name}`;
  let prefilled = false;
  if (!FRESH.has(name) && !ctx.rows.has(engine.name)) {
    // Nothing to read, overwrite or delete yet: an untimed fillrandom makes a store.
    prefilled = true;
    await engine.create();
    const order = permutationOrder(ctx.num, new Prng(ctx.seed * 1000 + 999));
    const values = new ValueSource(ctx.valueBytes, ctx.seed);
    await timedLoop(`${label} (prefill)`, order.length, ctx, (i) => {
      const key = formatKey(order[i]!, ctx.keyBytes);
      const value = values.next();
      return engine.put(key, value).then(() => key.length + value.length);
    });
    await engine.flush();
    await engine.close();
    ctx.rows.set(engine.name, ctx.num);
  }

  const t0 = now();
  if (FRESH.has(name)) await engine.create();
  else await engine.open();
  const openMs = now() - t0;

  if (name === 'readrandom') {
    // Warm the block cache (both engines fill it from scans) without timing it.
    const cursor = engine.cursor();
    try {
      while ((await cursor.next()) >= 0);
    } finally {
      await cursor.close();
    }
  }

  const written0 = WRITES.has(name) ? engine.bytesWritten() : 0;
  const order = name === 'readseq' ? undefined : keyOrder(name, index, ctx);
  let m: Measured;
  let userBytes = 0;
  switch (name) {
    case 'fillseq':
    case 'fillrandom':
    case 'overwrite': {
      const values = new ValueSource(ctx.valueBytes, ctx.seed);
      m = await timedLoop(label, order!.length, ctx, (i) => {
        const key = formatKey(order![i]!, ctx.keyBytes);
        const value = values.next();
        return engine.put(key, value).then(() => key.length + value.length);
      });
      userBytes = m.bytes;
      ctx.rows.set(engine.name, ctx.num);
      break;
    }
    case 'deleterandom':
      m = await timedLoop(label, order!.length, ctx, (i) => {
        const key = formatKey(order![i]!, ctx.keyBytes);
        return engine.del(key).then(() => key.length);
      });
      userBytes = m.bytes;
      // Later benchmarks read a partly deleted store; "found" shows how much is left.
      break;
    case 'readrandom':
    case 'readrandom-cold':
      m = await timedLoop(label, order!.length, ctx, (i) => {
        const key = formatKey(order![i]!, ctx.keyBytes);
        return engine.get(key).then((v) => (v < 0 ? -1 : key.length + v));
      });
      break;
    case 'seekrandom':
      m = await timedLoop(label, order!.length, ctx, (i) => {
        const key = formatKey(order![i]!, ctx.keyBytes);
        return engine.seek(key).then((r) => (r !== undefined && key.equals(r.key) ? r.bytes : -1));
      });
      break;
    case 'readseq': {
      const cursor = engine.cursor();
      try {
        m = await timedLoop(label, ctx.rows.get(engine.name) ?? ctx.num, ctx, () => cursor.next(), {
          untilEnd: true,
        });
      } finally {
        await cursor.close();
      }
      break;
    }
  }

  let write: WriteResult | undefined;
  if (WRITES.has(name)) {
    const f0 = now();
    await engine.flush();
    const flushMs = now() - f0;
    const bytesWritten = engine.bytesWritten() - written0;
    const disk = diskUsage(engine.dir);
    write = {
      flushMs,
      userBytes,
      bytesWritten,
      writeAmp: userBytes > 0 ? bytesWritten / userBytes : null,
      writeAmpExact: engine.bytesWrittenExact,
      diskBytes: disk.tables + disk.logs + disk.other,
      disk,
      levels: engine.levels(),
    };
  }
  const hist = m.hist;
  return {
    ops: m.ops,
    found: m.found,
    seconds: m.seconds,
    opsPerSec: m.ops / m.seconds,
    mbPerSec: m.bytes / MiB / m.seconds,
    p50Us: hist.percentileMs(50) * 1000,
    p99Us: hist.percentileMs(99) * 1000,
    maxUs: hist.maxMs() * 1000,
    openMs,
    prefilled,
    ...(write ? { write } : {}),
    memory: await engine.memory(),
    counters: engine.counters(),
    rssMiB: Math.round((process.memoryUsage().rss / MiB) * 10) / 10,
  };
}

interface Measured {
  readonly ops: number;
  readonly found: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly hist: LatencyHistogram;
}

/**
 * Runs op(0), op(1), … one at a time (each awaited before the next starts), timing each.
 * op resolves to the bytes it moved, or -1 when its key was not found. With untilEnd, the loop
 * instead runs until op resolves to -1 (a scan's end), and `count` only sizes the progress bar.
 */
async function timedLoop(
  label: string,
  count: number,
  ctx: RunContext,
  op: (i: number) => Promise<number>,
  { untilEnd = false } = {},
): Promise<Measured> {
  const hist = new LatencyHistogram();
  const bar = ctx.progress
    ? new SingleBar(
        {
          format: `  ${label.padEnd(34)} [{bar}] {percentage}% | {value}/{total} | {rate} ops/s`,
          stream: process.stderr,
          hideCursor: true,
        },
        Presets.shades_classic,
      )
    : undefined;
  bar?.start(count, 0, { rate: 0 });
  let ops = 0;
  let found = 0;
  let bytes = 0;
  const start = now();
  for (let i = 0; untilEnd || i < count; i++) {
    const t = now();
    const b = await op(i);
    const end = now();
    if (untilEnd && b < 0) break;
    hist.record((end - t) * 1000);
    ops++;
    if (b >= 0) {
      found++;
      bytes += b;
    }
    if ((ops & 4095) === 0 && bar) {
      bar.update(Math.min(ops, count), { rate: Math.round(ops / ((end - start) / 1000)) });
    }
  }
  const seconds = Math.max(1e-9, (now() - start) / 1000);
  bar?.update(Math.min(ops, count), { rate: Math.round(ops / seconds) });
  bar?.stop();
  return { ops, found, bytes, seconds, hist };
}

// ---------------------------------------------------------------------------------------------
// The printed report

type Report = Awaited<ReturnType<typeof runStorageBench>>;

const num0 = (n: number) => Math.round(n).toString();
const fix = (n: number, d: number) => n.toFixed(d);

function speedCells(r: EngineResult): string {
  return (
    `${num0(r.opsPerSec).padStart(10)} ${fix(r.mbPerSec, 2).padStart(7)}` +
    ` ${fix(r.p50Us, 1).padStart(8)} ${fix(r.p99Us, 1).padStart(8)}`
  );
}

function writeCells(r: EngineResult): string {
  const w = r.write!;
  const amp = w.writeAmp === null ? '-' : `${w.writeAmpExact ? '' : '~'}${fix(w.writeAmp, 2)}`;
  const files = w.levels.reduce((n, l) => n + l.files, 0);
  return (
    `${num0(w.flushMs).padStart(8)} ${amp.padStart(6)} ${fix(w.diskBytes / MiB, 1).padStart(8)}` +
    ` ${fix(w.disk.logs / MiB, 1).padStart(8)} ${String(files).padStart(5)}`
  );
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? '?' : `${fix(bytes / MiB, 1)} MiB`;
}

export function printReport(report: Report): void {
  const p = report.parameters;
  const compared = p.leveldb !== null;
  const out: string[] = [];
  out.push(`tessera bench storage — ${report.machineLine}`);
  out.push(
    `${p.num} keys of ${p.keyBytes} B, values of ${p.valueBytes} B (half compressible); ` +
      `${p.compression}; ${p.compaction}; ${p.sync ? 'fsync every write' : 'no fsync per write'}; ` +
      `memory ${p.memoryBudgetMiB} MiB`,
  );
  out.push(
    `${'benchmark'.padEnd(16)} ${'ops/s'.padStart(10)} ${'MB/s'.padStart(7)} ${'p50 µs'.padStart(8)}` +
      ` ${'p99 µs'.padStart(8)} | ${'leveldb ops/s'.padStart(13)} ${'MB/s'.padStart(7)}` +
      ` ${'p50 µs'.padStart(8)} ${'p99 µs'.padStart(8)} | ${'ratio'.padStart(6)}`,
  );
  for (const r of report.results) {
    const peer = r.leveldb
      ? `   ${speedCells(r.leveldb)} | ${fix(r.ratio!, 2).padStart(6)}`
      : 'n/a';
    out.push(`${r.name.padEnd(16)} ${speedCells(r.tessera)} | ${peer}`);
  }
  const writes = report.results.filter((r) => r.tessera.write);
  if (writes.length > 0) {
    out.push('');
    out.push(
      `${'after writes'.padEnd(16)} ${'flush ms'.padStart(8)} ${'w-amp'.padStart(6)}` +
        ` ${'disk MiB'.padStart(8)} ${'logs MiB'.padStart(8)} ${'files'.padStart(5)}` +
        ` | ${'leveldb flush ms'.padStart(16)} ${'w-amp'.padStart(6)} ${'disk MiB'.padStart(8)}` +
        ` ${'logs MiB'.padStart(8)} ${'files'.padStart(5)}`,
    );
    for (const r of writes) {
      const peer = r.leveldb?.write ? `        ${writeCells(r.leveldb)}` : 'n/a';
      out.push(`${r.name.padEnd(16)} ${writeCells(r.tessera)} | ${peer}`);
    }
  }
  out.push('');
  for (const r of report.results) {
    for (const [engine, e] of [
      ['tessera', r.tessera],
      ['leveldb', r.leveldb],
    ] as const) {
      if (!e) continue;
      if (e.prefilled) out.push(`note: ${engine} ${r.name} ran on an untimed fillrandom prefill`);
      const reads = r.name.startsWith('read') || r.name === 'seekrandom';
      if (reads && e.found < e.ops) {
        out.push(`note: ${engine} ${r.name} found ${e.found} of ${e.ops} keys`);
      }
    }
  }
  // Each engine's memory account at the end of the benchmark where it was largest.
  const largest = (engine: 'tessera' | 'leveldb') => {
    let best: { name: string; memory: Record<string, number>; total: number } | undefined;
    for (const r of report.results) {
      const m = r[engine]?.memory;
      if (!m) continue;
      const total = Object.values(m).reduce((a, b) => a + b, 0);
      if (!best || total > best.total) best = { name: r.name, memory: m, total };
    }
    return best;
  };
  const tm = largest('tessera')!;
  out.push(
    `tessera memory (largest, after ${tm.name}): memtables ${mib(tm.memory.memtables)}, ` +
      `block cache ${mib(tm.memory.blockCache)}, index+filters ${mib(tm.memory.indexAndFilters)}`,
  );
  const lm = largest('leveldb');
  if (lm) {
    out.push(
      `leveldb memory (largest, after ${lm.name}): approximate-memory-usage ` +
        `${mib(lm.memory.approximateMemoryUsage)}`,
    );
  }
  out.push(
    `peak RSS ${fix(report.peakRssMiB, 1)} MiB${compared ? ' (both engines in one process)' : ''}; ` +
      `${compared ? 'interleaved per benchmark, tessera first' : 'tessera only'}; ` +
      `stores ${p.kept ? `kept in ${p.dir}` : 'removed'}`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
}
