/**
 * The knobs of the fault model. docs/simulator.md says what each one means; the defaults give a
 * fast, healthy LAN and disk, so a scenario turns on exactly the faults it wants.
 */
import { invalidArgument } from '../../util/errors.js';
import type { Prng } from '../../util/prng.js';

export interface NetworkFaults {
  /** One-way delay: min + exponential(mean - min), clamped to max. */
  readonly minDelayMs: number;
  readonly meanDelayMs: number;
  readonly maxDelayMs: number;
  /**
   * Datagrams: probability a message is lost. Streams: probability a segment needs a
   * retransmission (adds a retransmission timeout of delay), never lost bytes.
   */
  readonly lossRate: number;
  /** Datagrams only: probability a message is delivered twice. */
  readonly duplicateRate: number;
  /** Datagrams only: probability a message is held back long enough for later ones to pass. */
  readonly reorderRate: number;
  /** Streams only: probability, per delivered segment, that the connection is reset. */
  readonly resetRate: number;
  /** Streams only: probability a written chunk arrives as several smaller chunks. */
  readonly splitRate: number;
}

export const networkFaultsDefault: NetworkFaults = {
  minDelayMs: 0.1,
  meanDelayMs: 1,
  maxDelayMs: 5,
  lossRate: 0,
  duplicateRate: 0,
  reorderRate: 0,
  resetRate: 0,
  splitRate: 0.25,
};

export interface DiskFaults {
  /** Probability that a read (read, readFile) fails with IO_ERROR. */
  readonly readErrorRate: number;
  /** Probability that a mutation (write, append, truncate, create, rename, remove) fails. */
  readonly writeErrorRate: number;
  /** Probability that sync or syncDir fails; the data stays unsynced. */
  readonly syncErrorRate: number;
  /** Latency of every operation but syncs: min + exponential(mean - min), clamped to max. */
  readonly minLatencyMicros: number;
  readonly meanLatencyMicros: number;
  readonly maxLatencyMicros: number;
  /** Latency of sync and syncDir: min + exponential(syncMean - min), clamped to syncMax. */
  readonly meanSyncLatencyMicros: number;
  readonly maxSyncLatencyMicros: number;
}

export const diskFaultsDefault: DiskFaults = {
  readErrorRate: 0,
  writeErrorRate: 0,
  syncErrorRate: 0,
  minLatencyMicros: 5,
  meanLatencyMicros: 40,
  maxLatencyMicros: 1_000,
  meanSyncLatencyMicros: 1_000,
  maxSyncLatencyMicros: 10_000,
};

export function mergeNetworkFaults(
  base: NetworkFaults,
  change: Partial<NetworkFaults> = {},
): NetworkFaults {
  const f: NetworkFaults = { ...base, ...change };
  checkRates('network', f.lossRate, f.duplicateRate, f.reorderRate, f.resetRate, f.splitRate);
  checkRange('network delay', f.minDelayMs, f.meanDelayMs, f.maxDelayMs);
  return f;
}

export function mergeDiskFaults(base: DiskFaults, change: Partial<DiskFaults> = {}): DiskFaults {
  const f: DiskFaults = { ...base, ...change };
  checkRates('disk', f.readErrorRate, f.writeErrorRate, f.syncErrorRate);
  checkRange('disk latency', f.minLatencyMicros, f.meanLatencyMicros, f.maxLatencyMicros);
  checkRange(
    'disk sync latency',
    f.minLatencyMicros,
    f.meanSyncLatencyMicros,
    f.maxSyncLatencyMicros,
  );
  return f;
}

/** min + exponential(mean - min), clamped to max: mostly short, with a tail. */
export function sampleLatency(prng: Prng, min: number, mean: number, max: number): number {
  return Math.min(max, min + prng.exponential(mean - min));
}

function checkRates(what: string, ...rates: number[]): void {
  for (const r of rates) {
    if (!(r >= 0 && r <= 1)) throw invalidArgument(`${what} fault rates must be in [0, 1]`);
  }
}

function checkRange(what: string, min: number, mean: number, max: number): void {
  if (!(min >= 0 && min <= mean && mean <= max && Number.isFinite(max))) {
    throw invalidArgument(`${what} needs 0 <= min <= mean <= max (finite)`, { min, mean, max });
  }
}
