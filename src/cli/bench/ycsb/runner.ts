/**
 * Runs one YCSB workload against one system: a load phase (`records` inserts) and a run phase
 * (`operations` operations drawn from the workload's mix), each by `clients` closed-loop
 * clients with one operation outstanding, latencies into an HDR histogram per operation type.
 * The clients share `connections` connections, client i the (i mod connections)-th.
 */
import { Presets, SingleBar } from 'cli-progress';
import { LatencyHistogram } from '../histogram.js';
import type { YcsbSystem, YcsbTarget } from './targets.js';
import type { WorkloadStream } from './workloads.js';
import { OP_KINDS, type OpKind, type YcsbOp } from './workloads.js';

/** Progress bar redraws, at most one per this many operations. */
const progressEveryOps = 256;

export interface Latency {
  readonly count: number;
  /** Microseconds. */
  readonly p50Us: number;
  readonly p95Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
}

export interface PhaseResult {
  readonly phase: 'load' | 'run';
  readonly operations: number;
  readonly seconds: number;
  readonly opsPerSecond: number;
  /** Operations that threw (not counted in the latencies). */
  readonly errors: number;
  readonly firstError?: string;
  /** Reads / read-modify-writes of a row that was not there (YCSB's NOT_FOUND). */
  readonly notFound: number;
  /** Per operation type, only types that ran. */
  readonly latency: Partial<Record<OpKind | 'all', Latency>>;
}

export interface SystemResult {
  readonly system: string;
  readonly address: string;
  /** Connections the clients shared. */
  readonly connections: number;
  readonly load: PhaseResult;
  readonly run: PhaseResult;
}

export interface RunOptions {
  readonly records: number;
  readonly operations: number;
  readonly clients: number;
  /** Connections the clients share (at most `clients`); default: the system's own habit. */
  readonly connections?: number;
  readonly progress: boolean;
}

/** Performs one operation; resolves to false when its row was not found. */
async function perform(target: YcsbTarget, op: YcsbOp): Promise<boolean> {
  switch (op.kind) {
    case 'read':
      return target.read(op.key);
    case 'update':
      await target.update(op.key, op.values);
      return true;
    case 'insert':
      await target.insert(op.key, op.values);
      return true;
    case 'scan':
      await target.scan(op.key, op.count);
      return true;
    case 'readModifyWrite':
      return target.readModifyWrite(op.key, op.values);
  }
}

function summary(h: LatencyHistogram): Latency {
  const us = (p: number) => Math.round(h.percentileMs(p) * 1000);
  return {
    count: h.count,
    p50Us: us(50),
    p95Us: us(95),
    p99Us: us(99),
    p999Us: us(99.9),
    maxUs: Math.round(h.maxMs() * 1000),
  };
}

async function runPhase(
  phase: 'load' | 'run',
  label: string,
  targets: readonly YcsbTarget[],
  count: number,
  next: () => YcsbOp,
  acknowledge: (op: YcsbOp) => void,
  progress: boolean,
): Promise<PhaseResult> {
  const hists = new Map<OpKind | 'all', LatencyHistogram>([['all', new LatencyHistogram()]]);
  const bar = progress
    ? new SingleBar(
        {
          format: `  ${label.padEnd(22)} [{bar}] {percentage}% | {value}/{total} | {rate} ops/s`,
          stream: process.stderr,
          hideCursor: true,
        },
        Presets.shades_classic,
      )
    : undefined;
  bar?.start(count, 0, { rate: 0 });
  let issued = 0;
  let done = 0;
  let errors = 0;
  let notFound = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const client = async (target: YcsbTarget) => {
    while (issued < count) {
      issued++;
      const op = next();
      const t0 = performance.now();
      try {
        const found = await perform(target, op);
        const micros = (performance.now() - t0) * 1000;
        let h = hists.get(op.kind);
        if (!h) hists.set(op.kind, (h = new LatencyHistogram()));
        h.record(micros);
        hists.get('all')!.record(micros);
        if (!found) notFound++;
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      } finally {
        acknowledge(op);
      }
      done++;
      if (bar && done % progressEveryOps === 0) {
        const elapsed = (performance.now() - start) / 1000;
        bar.update(done, { rate: Math.round(done / elapsed) });
      }
    }
  };
  await Promise.all(targets.map(client));
  const seconds = (performance.now() - start) / 1000;
  bar?.update(done, { rate: Math.round(done / seconds) });
  bar?.stop();
  const latency: Partial<Record<OpKind | 'all', Latency>> = {};
  for (const kind of [...OP_KINDS, 'all'] as const) {
    const h = hists.get(kind);
    if (h && h.count > 0) latency[kind] = summary(h);
  }
  return {
    phase,
    operations: done,
    seconds,
    opsPerSecond: done / seconds,
    errors,
    ...(firstError !== undefined ? { firstError } : {}),
    notFound,
    latency,
  };
}

/** Load then run `stream`'s workload against `system` with `clients` clients. */
export async function runWorkload(
  system: YcsbSystem,
  stream: WorkloadStream,
  options: RunOptions,
): Promise<SystemResult> {
  const { records, operations, clients, progress } = options;
  if (!(records > 0 && operations >= 0 && clients > 0)) {
    throw new RangeError(`records, clients must be positive, operations not negative`);
  }
  await system.prepare();
  const connections = Math.min(clients, options.connections ?? system.defaultConnections(clients));
  if (!(connections > 0)) throw new RangeError(`connections must be positive`);
  const opened = await Promise.allSettled(Array.from({ length: connections }, () => system.open()));
  const targets: YcsbTarget[] = [];
  for (const r of opened) if (r.status === 'fulfilled') targets.push(r.value);
  const failed = opened.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(targets.map((t) => t.close().catch(() => {})));
    throw failed.reason;
  }
  const clientTargets = Array.from({ length: clients }, (_, i) => targets[i % connections]!);
  try {
    const load = await runPhase(
      'load',
      `${system.name} load`,
      clientTargets,
      records,
      () => stream.loadOp(),
      () => {},
      progress,
    );
    const run = await runPhase(
      'run',
      `${system.name} run ${stream.spec.name.toUpperCase()}`,
      clientTargets,
      operations,
      () => stream.nextOp(),
      (op) => stream.acknowledge(op),
      progress,
    );
    return { system: system.name, address: system.address, connections, load, run };
  } finally {
    await Promise.all(targets.map((t) => t.close().catch(() => {})));
  }
}
