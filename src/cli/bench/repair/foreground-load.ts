/**
 * The foreground load of `tessera bench repair`: an open-loop load at a fixed rate, as an
 * application's traffic arrives whether or not the ring is busy repairing. Operation i is due
 * at start + i / rate; a read (get) or a write (put) of one row, both at the given level, over
 * the table handles in turn.
 *
 * Latency is measured from when an operation was due, not from when it was sent: a closed-loop
 * client that waits for each answer before sending the next sends fewer requests while the
 * server is slow, and so hides exactly the stalls that repair and bootstrap may cause
 * (coordinated omission). When `inFlightMax` operations are outstanding, due ones wait for a
 * free slot, and that wait is in their latency too. The time from sending to the answer is
 * kept as well (`service`), to tell a slow server from a backlog.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Table } from '../../../client/index.js';
import type { ConsistencyLevel } from '../../../model/index.js';
import { Prng } from '../../../util/prng.js';
import { LatencyHistogram } from '../histogram.js';
import { BENCH_COLUMN, rowKey, ValueSource } from './dataset.js';

/** How often the generator wakes to send what has come due. */
const tickMs = 1;

export interface ForegroundOptions {
  /** One handle per connection; operation i goes to handle i mod length. */
  readonly tables: readonly Table[];
  /** Operations per second sent. */
  readonly rate: number;
  /** Share of reads; the rest are writes. */
  readonly readFraction: number;
  /** Rows [keyLo, keyHi) are read and written (dataset.ts says why not all of them). */
  readonly keyLo: number;
  readonly keyHi: number;
  readonly valueSize: number;
  readonly consistency: ConsistencyLevel;
  /** Most operations outstanding; more due ones wait (and that counts in their latency). */
  readonly inFlightMax: number;
  readonly seed: number;
  /**
   * Whether an operation falls in the window of interest (the bootstrap's streaming, say),
   * asked when it is due; those are summarized in `window` as well as in `latency`.
   */
  readonly inWindow?: () => boolean;
}

export interface LatencySummary {
  readonly count: number;
  /** Milliseconds. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

export interface ForegroundResult {
  /** From the first operation due until the load was told to stop. */
  readonly seconds: number;
  readonly targetRate: number;
  /** Operations sent ÷ seconds (below targetRate when inFlightMax held some back). */
  readonly opsPerSecond: number;
  readonly operations: number;
  readonly errors: number;
  readonly firstError?: string;
  /** From when each operation was due to its answer (an error's too). */
  readonly latency: {
    readonly all: LatencySummary;
    readonly read: LatencySummary;
    readonly write: LatencySummary;
  };
  /** From when each operation was sent to its answer. */
  readonly service: LatencySummary;
  /** The operations due while `inWindow` said yes, latency from when each was due. */
  readonly window?: LatencySummary;
}

function summary(h: LatencyHistogram): LatencySummary {
  if (h.count === 0) return { count: 0, p50Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
  return {
    count: h.count,
    p50Ms: h.percentileMs(50),
    p99Ms: h.percentileMs(99),
    p999Ms: h.percentileMs(99.9),
    maxMs: h.maxMs(),
  };
}

/**
 * Runs the load until `until` settles (or rejects: then the load stops and that error is
 * thrown once the operations in flight are answered); resolves with what it measured.
 */
export async function runForeground(
  options: ForegroundOptions,
  until: Promise<unknown>,
): Promise<ForegroundResult> {
  const { tables, rate, consistency } = options;
  if (!(rate > 0) || tables.length === 0 || !(options.keyHi > options.keyLo)) {
    throw new RangeError('the foreground load needs a rate, a table handle and a key range');
  }
  const random = new Prng(options.seed);
  const values = new ValueSource(options.valueSize, random.fork());
  const all = new LatencyHistogram();
  const reads = new LatencyHistogram();
  const writes = new LatencyHistogram();
  const service = new LatencyHistogram();
  const window = new LatencyHistogram();
  let stopped = false;
  let stopError: unknown;
  const stop = until.then(
    () => {
      stopped = true;
    },
    (err: unknown) => {
      stopped = true;
      stopError = err;
    },
  );
  let errors = 0;
  let firstError: string | undefined;
  let inFlight = 0;
  const outstanding = new Set<Promise<void>>();
  const send = (i: number, dueMs: number): void => {
    const table = tables[i % tables.length]!;
    const key = rowKey(options.keyLo + random.int(options.keyHi - options.keyLo));
    const read = random.float() < options.readFraction;
    const windowed = options.inWindow?.() === true;
    const sentMs = performance.now();
    const op: Promise<unknown> = read
      ? table.get(key, { consistency })
      : table.put(key, { [BENCH_COLUMN]: values.next() }, { consistency });
    inFlight++;
    // A failed operation's latency counts too: its client waited that long for the error
    // (most are timeouts, the slowest answers of all).
    const done = op
      .then(
        () => undefined,
        (err: unknown) => {
          errors++;
          firstError ??= err instanceof Error ? err.message : String(err);
        },
      )
      .then(() => {
        const now = performance.now();
        const micros = (now - dueMs) * 1000;
        all.record(micros);
        (read ? reads : writes).record(micros);
        if (windowed) window.record(micros);
        service.record((now - sentMs) * 1000);
      });
    const tracked = done.finally(() => {
      inFlight--;
      outstanding.delete(tracked);
    });
    outstanding.add(tracked);
  };
  const startMs = performance.now();
  const intervalMs = 1000 / rate;
  let sent = 0;
  while (!stopped) {
    const due = Math.floor((performance.now() - startMs) / intervalMs) + 1;
    while (sent < due && inFlight < options.inFlightMax) {
      send(sent, startMs + sent * intervalMs);
      sent++;
    }
    await Promise.race([sleep(tickMs), stop]);
  }
  const seconds = Math.max(1e-3, (performance.now() - startMs) / 1000);
  await Promise.all(outstanding);
  if (stopError !== undefined) throw stopError;
  return {
    seconds,
    targetRate: rate,
    opsPerSecond: sent / seconds,
    operations: sent,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    latency: { all: summary(all), read: summary(reads), write: summary(writes) },
    service: summary(service),
    ...(options.inWindow === undefined ? {} : { window: summary(window) }),
  };
}
