/**
 * `tessera bench repair` — what anti-entropy repair and bootstrap cost on a real ring of
 * `tessera node --ring` processes on this machine: repair's throughput (MiB of replica data
 * compared and streamed per second, by the session's own counters) and the p50/p99/p99.9 of a
 * fixed-rate foreground load while a repair or a bootstrap runs, against the same load with
 * neither. Results go to docs/benchmarks.md.
 *
 * The run, in order:
 *   1. three nodes at RF 3 with `--hint-window 1ms --read-repair-chance 0`, so that hints
 *      expire at once and no background read repair heals anything: what node 3 misses, only
 *      repair brings back; a hashed table of `--rows` rows loaded at ALL;
 *   2. divergence: node 3 stopped (SIGTERM), `--diverge-rows` written at QUORUM (half
 *      overwrites, half new rows), node 3 started again on its data;
 *   3. repair alone: `ring.repair {scope: all}` on node 1 with no other load, to its end;
 *   4. baseline: the foreground load for `--seconds` on the repaired ring;
 *   5. divergence again (a second repair would find nothing to stream), then repair under
 *      the foreground load, the load running until the session ends;
 *   6. bootstrap: a 4th node started with `--bootstrap` under the foreground load, which runs
 *      until node 1 sees the new node normal.
 * Every node is stopped and every directory removed at the end, on failure, and on a signal.
 *
 * Step 3 comes before the baseline so that the baseline runs on a ring in agreement, as the
 * load during repair does (its keys are kept apart from the diverged ones, dataset.ts).
 */
import { cpus, tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError } from 'commander';
import { connect, type Database, type Table } from '../../client/index.js';
import { realEnv } from '../../env/real/index.js';
import type { RingDescription } from '../../ring/index.js';
import { parseChance, parseDurationMs, parseStreamRate } from '../node-command.js';
import { loadGeneratorFlagsInPlace, rerunWithLoadGeneratorFlags } from './load-generator-flags.js';
import {
  BENCH_FAMILY,
  BENCH_TABLE,
  divergenceKeys,
  rowKey,
  ValueSource,
  writeRows,
} from './repair/dataset.js';
import {
  runForeground,
  type ForegroundOptions,
  type ForegroundResult,
} from './repair/foreground-load.js';
import {
  bootstrapFinished,
  repairFinished,
  type BootstrapMeasure,
  type RepairMeasure,
} from './repair/measure.js';
import { RingProcess } from './repair/ring-process.js';
import { membershipGap, RingLink, waitForRing } from './repair/ring-watch.js';
import { stopServersOnSignals } from './ycsb/spawned-servers.js';
import { Prng } from '../../util/prng.js';

const replicationFactor = 3;
/** How long the ring may take to form, a table to reach every node, a restart to be seen. */
const settleTimeoutMs = 60_000;
/** Most foreground operations outstanding (foreground-load.ts). */
const inFlightMax = 1_000;
/** Key and value bytes of one row as stored, roughly: the key and the value. */
const keyBytes = rowKey(0).length;

interface Options {
  rows: number;
  valueSize: number;
  divergeRows?: number;
  rate: number;
  readFraction: number;
  connections: number;
  seconds: number;
  streamRate?: string;
  ringDelay?: string;
  timeout: number;
  seed: number;
  json?: boolean;
}

const positiveInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('expected an integer > 0');
  return n;
};
const positiveNumber = (v: string): number => {
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number > 0');
  return n;
};

export function repairBenchCommand(): Command {
  return new Command('repair')
    .description(
      'repair throughput (MiB/s compared and streamed) and foreground p99 during repair and bootstrap, on a 3-node ring',
    )
    .option('--rows <n>', 'rows loaded at ALL before anything else', positiveInt, 100_000)
    .option('--value-size <bytes>', 'bytes of the one value of each row', positiveInt, 400)
    .option(
      '--diverge-rows <n>',
      'rows written while node 3 is down, half overwrites, half new (default 20% of --rows)',
      positiveInt,
    )
    .option('--rate <ops/s>', 'foreground operations sent per second', positiveNumber, 2_000)
    .option(
      '--read-fraction <p>',
      'share of foreground reads; the rest are writes',
      (v: string) => parseChance(v),
      0.5,
    )
    .option('--connections <n>', 'client connections the foreground load uses', positiveInt, 4)
    .option('--seconds <s>', 'length of the foreground baseline', positiveNumber, 30)
    .option('--stream-rate <MiB/s>', "every node's --stream-rate (default: the node's, 64)")
    .option('--ring-delay <duration>', "every node's --ring-delay (default: the node's, 5s)")
    .option('--timeout <s>', 'longest wait for one repair or bootstrap', positiveNumber, 600)
    .option('--seed <n>', 'seed of keys and values', (v) => Number(v), 1)
    .option('--json', 'print the results as JSON')
    .action(async (opts: Options) => {
      const plan = planOf(opts);
      if (!loadGeneratorFlagsInPlace()) {
        process.exitCode = await rerunWithLoadGeneratorFlags();
        return;
      }
      stopServersOnSignals();
      const report = await runRepairBench(opts, plan);
      if (opts.json === true) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else printReport(report);
    });
}

interface Plan {
  readonly overwrites: number;
  readonly added: number;
  readonly nodeFlags: readonly string[];
}

/** Checks the flags before anything starts; the node flags every node is started with. */
function planOf(opts: Options): Plan {
  if (!Number.isSafeInteger(opts.seed)) throw new InvalidArgumentError('--seed: an integer');
  const diverge = opts.divergeRows ?? Math.max(2, Math.round(opts.rows / 5));
  const overwrites = Math.min(Math.floor(diverge / 2), opts.rows - 1);
  if (overwrites < 1 || opts.rows - overwrites < 1) {
    throw new InvalidArgumentError(
      '--rows and --diverge-rows leave no rows to overwrite or to load',
    );
  }
  const nodeFlags = ['--hint-window', '1ms', '--read-repair-chance', '0'];
  if (opts.streamRate !== undefined) {
    parseStreamRate(opts.streamRate);
    nodeFlags.push('--stream-rate', opts.streamRate);
  }
  if (opts.ringDelay !== undefined) {
    parseDurationMs(opts.ringDelay, 0);
    nodeFlags.push('--ring-delay', opts.ringDelay);
  }
  return { overwrites, added: diverge - overwrites, nodeFlags };
}

function tableGap(d: RingDescription): string | undefined {
  const t = d.tables.find((x) => x.name === BENCH_TABLE);
  if (t === undefined) return `no table '${BENCH_TABLE}' yet`;
  return t.replicationFactor === replicationFactor ? undefined : `RF ${t.replicationFactor}`;
}

/** `list` turned `by` places, so that connection i starts at node i. */
function rotated<T>(list: readonly T[], by: number): T[] {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

interface Report {
  readonly benchmark: 'repair';
  readonly machine: string;
  readonly command: string;
  readonly loadGenerator: { readonly v8Flags: readonly string[] };
  readonly settings: {
    readonly nodes: number;
    readonly replicationFactor: number;
    readonly rows: number;
    readonly valueSize: number;
    /** Key and value bytes of every row, once per replica, in MiB. */
    readonly mibPerReplica: number;
    readonly overwrites: number;
    readonly added: number;
    readonly nodeFlags: readonly string[];
    readonly foreground: {
      readonly rate: number;
      readonly readFraction: number;
      readonly consistency: 'QUORUM';
      readonly connections: number;
      readonly baselineSeconds: number;
    };
    readonly seed: number;
  };
  readonly load: { readonly seconds: number; readonly rowsPerSecond: number };
  readonly divergence: readonly { readonly seconds: number; readonly rows: number }[];
  readonly repairAlone: RepairMeasure;
  readonly baseline: ForegroundResult;
  readonly repairUnderLoad: {
    readonly repair: RepairMeasure;
    readonly foreground: ForegroundResult;
  };
  readonly bootstrap: BootstrapMeasure & { readonly foreground: ForegroundResult };
  /** Every node process started, all stopped by the time the report is printed. */
  readonly pids: readonly number[];
  /** Largest peak resident set (VmHWM) of each node, KiB; null where unreadable. */
  readonly peakRssKiBPerNode: readonly (number | null)[];
}

async function runRepairBench(opts: Options, plan: Plan): Promise<Report> {
  const note = (msg: string): void => {
    if (opts.json !== true) process.stderr.write(`${msg}\n`);
  };
  const env = realEnv({ name: 'bench-repair', root: tmpdir() });
  const random = new Prng(opts.seed);
  const values = new ValueSource(opts.valueSize, random.fork());
  const nodes: RingProcess[] = [];
  const links: RingLink[] = [];
  const dbs: Database[] = [];
  try {
    note('starting a 3-node tessera ring (--sync always) ...');
    const first = new RingProcess({ name: 'repair-1', seeds: [], flags: plan.nodeFlags });
    nodes.push(first);
    await first.start();
    const rest = [2, 3].map(
      (i) =>
        new RingProcess({ name: `repair-${i}`, seeds: [first.address], flags: plan.nodeFlags }),
    );
    nodes.push(...rest);
    await Promise.all(rest.map((n) => n.start()));
    const ring = nodes.slice(0, 3);
    const addresses = ring.map((n) => n.address);
    links.push(...ring.map((n) => new RingLink(n)));
    const ringLinks = [...links];
    const ringUp = (what: string): Promise<void> =>
      waitForRing(ringLinks, (d) => membershipGap(d, addresses), what, settleTimeoutMs);
    await ringUp('the 3-node ring did not form');
    for (let i = 0; i < opts.connections; i++) {
      dbs.push(await connect(env, rotated(addresses, i)));
    }
    await dbs[0]!.createTable({
      name: BENCH_TABLE,
      families: [{ name: BENCH_FAMILY }],
      placement: { hashed: { replicationFactor } },
    });
    await waitForRing(
      ringLinks,
      tableGap,
      `table ${BENCH_TABLE} did not reach every node`,
      settleTimeoutMs,
    );
    const tables: Table[] = dbs.map((db) => db.table(BENCH_TABLE));

    note(`loading ${opts.rows} rows of ${opts.valueSize} B at ALL ...`);
    const loadStarted = performance.now();
    await writeRows(
      tables,
      Array.from({ length: opts.rows }, (_, i) => rowKey(i)),
      values,
      'ALL',
    );
    const loadSeconds = (performance.now() - loadStarted) / 1000;

    // Divergence: node 3 misses these writes; its hints expire at once (--hint-window 1ms).
    const node3 = ring[2]!;
    const divergence: { seconds: number; rows: number }[] = [];
    const diverge = async (round: number): Promise<void> => {
      note(
        `divergence ${round}: stopping node 3, writing ${plan.overwrites + plan.added} rows at QUORUM, restarting it ...`,
      );
      await node3.halt('SIGTERM');
      // Batches are not routed by row, so this client's batches go to nodes 1 and 2 only.
      const db = await connect(env, addresses.slice(0, 2));
      try {
        const started = performance.now();
        const keys = divergenceKeys(round, plan.overwrites, plan.added);
        await writeRows([db.table(BENCH_TABLE)], keys, values, 'QUORUM');
        divergence.push({ seconds: (performance.now() - started) / 1000, rows: keys.length });
      } finally {
        await db.close();
      }
      await node3.start();
      await ringUp(`node 3 was not seen back in the ring after divergence ${round}`);
    };
    const timeoutMs = opts.timeout * 1000;

    await diverge(1);
    note('repair with no other load ...');
    const repairAlone = await repairFinished(
      links[0]!,
      await links[0]!.startRepair(BENCH_TABLE),
      timeoutMs,
    );

    const foreground: ForegroundOptions = {
      tables,
      rate: opts.rate,
      readFraction: opts.readFraction,
      keyLo: plan.overwrites,
      keyHi: opts.rows,
      valueSize: opts.valueSize,
      consistency: 'QUORUM',
      inFlightMax,
      seed: opts.seed + 1,
    };
    note(`foreground baseline: ${opts.rate} ops/s for ${opts.seconds} s ...`);
    const baseline = await runForeground(foreground, sleep(opts.seconds * 1000));

    await diverge(2);
    note('repair under the foreground load ...');
    // Started together: node 1 answers ring.repair only after the session's first steps, so
    // a load started on the answer would miss them.
    const session = links[0]!
      .startRepair(BENCH_TABLE)
      .then((id) => repairFinished(links[0]!, id, timeoutMs));
    const underLoad = await runForeground({ ...foreground, seed: opts.seed + 2 }, session);
    const repairUnderLoad = { repair: await session, foreground: underLoad };

    note('bootstrap of a 4th node under the foreground load ...');
    const fourth = new RingProcess({
      name: 'repair-4',
      seeds: [first.address],
      flags: [...plan.nodeFlags, '--bootstrap'],
    });
    nodes.push(fourth);
    let streaming = false;
    const joined = bootstrapFinished(fourth, links[0]!, timeoutMs, (phase) => {
      streaming = phase === 'streaming';
    });
    const duringBootstrap = await runForeground(
      { ...foreground, seed: opts.seed + 3, inWindow: () => streaming },
      joined,
    );
    const bootstrap = { ...(await joined), foreground: duringBootstrap };

    const rss = nodes.map((n) => n.peakRssKiB() ?? null);
    const rowBytes = keyBytes + opts.valueSize;
    return {
      benchmark: 'repair',
      machine: `${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown cpu'}, node ${process.version}`,
      command: `tessera bench repair ${process.argv.slice(4).join(' ')}`.trim(),
      loadGenerator: { v8Flags: [...process.execArgv] },
      settings: {
        nodes: 3,
        replicationFactor,
        rows: opts.rows,
        valueSize: opts.valueSize,
        mibPerReplica: (opts.rows * rowBytes) / 1024 / 1024,
        overwrites: plan.overwrites,
        added: plan.added,
        nodeFlags: plan.nodeFlags,
        foreground: {
          rate: opts.rate,
          readFraction: opts.readFraction,
          consistency: 'QUORUM',
          connections: opts.connections,
          baselineSeconds: opts.seconds,
        },
        seed: opts.seed,
      },
      load: { seconds: loadSeconds, rowsPerSecond: opts.rows / loadSeconds },
      divergence,
      repairAlone,
      baseline,
      repairUnderLoad,
      bootstrap,
      pids: nodes.flatMap((n) => n.pids),
      peakRssKiBPerNode: rss,
    };
  } finally {
    await Promise.all(dbs.map((db) => db.close().catch(() => undefined)));
    await Promise.all(links.map((l) => l.close()));
    await Promise.all(nodes.map((n) => n.dispose()));
  }
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const fixed = (n: number, digits = 1): string => n.toFixed(digits);

function repairRow(label: string, r: RepairMeasure): string {
  const cells = [
    label.padEnd(12),
    `${fixed(r.seconds, 2)} s`.padStart(9),
    fixed(r.mibCompared).padStart(9),
    fixed(r.mibPerSecondCompared).padStart(8),
    fixed(r.mibStreamed).padStart(9),
    fixed(r.mibPerSecondStreamed).padStart(8),
    int(r.rowsStreamed).padStart(9),
    `${int(r.leavesDiffering)}/${int(r.leavesCompared)}`.padStart(13),
    r.state,
  ];
  return `  ${cells.join(' ')}`;
}

function foregroundRow(label: string, f: ForegroundResult): string {
  const l = f.latency.all;
  const cells = [
    label.padEnd(17),
    fixed(f.seconds).padStart(7),
    int(f.opsPerSecond).padStart(7),
    int(f.errors).padStart(6),
    fixed(l.p50Ms, 2).padStart(8),
    fixed(l.p99Ms, 2).padStart(8),
    fixed(l.p999Ms, 2).padStart(8),
    fixed(l.maxMs, 1).padStart(8),
    fixed(f.service.p99Ms, 2).padStart(10),
  ];
  return `  ${cells.join(' ')}`;
}

function printReport(r: Report): void {
  const s = r.settings;
  const f = s.foreground;
  const out: string[] = [];
  out.push(
    `tessera bench repair — ${s.nodes}-node ring on loopback, RF ${s.replicationFactor}, WAL fsync before every acknowledgement`,
  );
  out.push(r.machine);
  out.push(
    `${int(s.rows)} rows × ${s.valueSize} B (~${fixed(s.mibPerReplica)} MiB of keys and values per replica), loaded at ALL in ${fixed(r.load.seconds)} s (${int(r.load.rowsPerSecond)} rows/s)`,
  );
  out.push(`node flags: ${s.nodeFlags.join(' ')}`);
  out.push(
    `divergence (twice): node 3 stopped, ${int(s.overwrites)} overwrites + ${int(s.added)} new rows at QUORUM (${r.divergence.map((d) => `${fixed(d.seconds)} s`).join(', ')}), node 3 restarted`,
  );
  out.push('');
  out.push('repair (ring.repair scope all on node 1; MiB = 2^20 bytes, rates over the session)');
  out.push(
    `  ${'run'.padEnd(12)} ${'duration'.padStart(9)} ${'cmp MiB'.padStart(9)} ${'MiB/s'.padStart(8)} ${'str MiB'.padStart(9)} ${'MiB/s'.padStart(8)} ${'rows str'.padStart(9)} ${'leaves diff'.padStart(13)} state`,
  );
  out.push(repairRow('alone', r.repairAlone));
  out.push(repairRow('under load', r.repairUnderLoad.repair));
  out.push('');
  out.push(
    `foreground: ${int(f.rate)} ops/s open loop, ${Math.round(f.readFraction * 100)}% get / ${Math.round((1 - f.readFraction) * 100)}% put at ${f.consistency}, ${f.connections} connections; latency in ms from when each op was due to its answer, errors included (service p99: from when it was sent)`,
  );
  out.push(
    `  ${'phase'.padEnd(17)} ${'seconds'.padStart(7)} ${'ops/s'.padStart(7)} ${'errors'.padStart(6)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'p99.9'.padStart(8)} ${'max'.padStart(8)} ${'service p99'.padStart(10)}`,
  );
  out.push(foregroundRow('baseline', r.baseline));
  out.push(foregroundRow('during repair', r.repairUnderLoad.foreground));
  out.push(foregroundRow('during bootstrap', r.bootstrap.foreground));
  const w = r.bootstrap.foreground.window;
  if (w !== undefined && w.count > 0) {
    const cells = [
      '  of it streaming'.padEnd(17),
      fixed(r.bootstrap.streamingSeconds ?? 0).padStart(7),
      '-'.padStart(7),
      '-'.padStart(6),
      fixed(w.p50Ms, 2).padStart(8),
      fixed(w.p99Ms, 2).padStart(8),
      fixed(w.p999Ms, 2).padStart(8),
      fixed(w.maxMs, 1).padStart(8),
      '-'.padStart(10),
    ];
    out.push(`  ${cells.join(' ')}`);
  }
  for (const [label, fg] of [
    ['baseline', r.baseline],
    ['during repair', r.repairUnderLoad.foreground],
    ['during bootstrap', r.bootstrap.foreground],
  ] as const) {
    if (fg.firstError !== undefined) out.push(`  first error ${label}: ${fg.firstError}`);
  }
  const b = r.bootstrap;
  out.push('');
  const streamed =
    b.mibStreamed === undefined
      ? 'streamed size not seen'
      : `${b.streamsDone === b.streams ? '' : 'at least '}${fixed(b.mibStreamed)} MiB streamed (${b.streamsDone}/${b.streams} streams at the last look)`;
  const phases =
    b.streamingSeconds === undefined
      ? ''
      : ` (${fixed(b.secondsBeforeStreaming ?? 0)} s learning the ring and waiting the ring delay, ${fixed(b.streamingSeconds, 2)} s streaming)`;
  const stored = b.mibStored === undefined ? '' : `; it stores ${fixed(b.mibStored)} MiB`;
  out.push(
    `bootstrap of a 4th node: normal in node 1's view after ${fixed(b.seconds)} s${phases}; ${streamed}${stored}`,
  );
  for (const e of [...r.repairAlone.errors, ...r.repairUnderLoad.repair.errors]) {
    out.push(`repair error: ${e}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
