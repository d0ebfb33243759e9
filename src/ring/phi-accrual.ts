/**
 * The phi-accrual failure detector (Hayashibara et al., 2004), as Cassandra and Akka use it.
 *
 * A fixed timeout makes a binary choice that is wrong on every network but the one it was tuned
 * for. Instead, this detector learns how a peer's heartbeats usually arrive (a bounded window
 * of inter-arrival times, with their mean and standard deviation) and answers with a level of
 * suspicion, phi, that keeps rising while the peer stays silent:
 *
 *   phi(t) = -log10(1 - F(t))
 *
 * where t is the time since the last heartbeat and F is the normal CDF fitted to the window. A
 * phi of 1 means roughly a 10% chance that a live peer would have been this late, 8 roughly a
 * 1e-8 chance. The caller compares phi against one threshold instead of tuning a timeout.
 *
 * F is Akka's logistic approximation of the normal CDF, F(t) = 1 / (1 + e^-z) with
 * y = (t - mean) / stdDev and z = y * (1.5976 + 0.070566 * y^2). Akka computes it as
 * -log10(e^-z / (1 + e^-z)), which turns into Infinity once e^-z underflows (z > ~745, about
 * 3.1 s of silence for a regular 1 s sender). Here it is computed in log space instead:
 * 1 - F = 1 / (1 + e^z), so phi = softplus(z) / ln 10, with softplus(z) = ln(1 + e^z)
 * evaluated as z + ln(1 + e^-z) for z > 0. That is finite for every finite z; y is clamped to
 * ±Y_ABS_MAX so that z itself stays finite even with an absurdly small minStdDevMicros.
 *
 * The mean used is the window's mean plus acceptablePauseMicros (Akka's
 * acceptableHeartbeatPause); the standard deviation is the window's (population) standard
 * deviation, bounded below by minStdDevMicros so that a perfectly regular sender is not
 * convicted by the first slightly late beat. Before any interval is recorded (zero or one
 * heartbeat heard), initialIntervalMicros stands in for the mean and a quarter of it for the
 * standard deviation. Intervals above maxIntervalMicros are not recorded: a restart or a long
 * partition must not teach the detector that a 60 s gap is normal (Cassandra's
 * MAX_INTERVAL_IN_NANO does the same).
 *
 * phi for a regular 1 s sender (defaults: mean 1 s, stdDev bounded to 100 ms, no pause):
 *
 *   | silence | phi                |
 *   |---------|--------------------|
 *   |    1 s  | 0.301 (= log10 2)  |
 *   |    2 s  | 37.58              |
 *   |    3 s  | 259.0              |
 *   |    5 s  | 1989               |
 *   |   10 s  | 22404              |
 *
 * phi crosses the default threshold of 8 about 1.523 s after the last heartbeat (y ≈ 5.23).
 * The logistic approximation grows with y^3, so past the threshold phi climbs steeply; with a
 * 100 ms standard deviation a single heartbeat delayed by ~520 ms is enough to convict. Callers
 * that want more slack set acceptablePauseMicros (Akka's cluster default is 3 s) or a larger
 * minStdDevMicros.
 *
 * Times are monotonic microseconds passed in by the caller; the class does no I/O. heartbeat()
 * is amortized O(1) and phi() is O(1): running sums over a ring buffer, recomputed exactly from
 * the buffer once per windowSamplesMax recorded samples so that floating-point error from
 * adding and subtracting cannot accumulate without bound.
 */
import { invalidArgument } from '../util/errors.js';

export const PHI_THRESHOLD_DEFAULT = 8;
/** Default bound on the history of inter-arrival times. */
export const PHI_WINDOW_SAMPLES_MAX = 1000;

const INITIAL_INTERVAL_MICROS_DEFAULT = 1_000_000;
const MIN_STD_DEV_MICROS_DEFAULT = 100_000;
const MAX_INTERVAL_FACTOR = 10;
/** Keeps z = y * (1.5976 + 0.070566 * y^2) finite (|z| ~ 7e298 at the bound). */
const Y_ABS_MAX = 1e100;

export interface PhiAccrualOptions {
  readonly threshold?: number; // default 8
  readonly windowSamplesMax?: number; // default 1000
  /** Interval assumed before enough heartbeats arrived (microseconds); default 1_000_000 (gossip's 1 s period). */
  readonly initialIntervalMicros?: number;
  /** Lower bound on the standard deviation used (microseconds), default 100_000, so a very regular sender is not suspected after one late beat. */
  readonly minStdDevMicros?: number;
  /** Extra pause tolerated (microseconds), default 0: added to the mean (Akka's acceptableHeartbeatPause). */
  readonly acceptablePauseMicros?: number;
  /** Intervals longer than this are not recorded as samples (a restart or long partition must not teach the detector that 60 s gaps are normal); default 10 * initialIntervalMicros. Cassandra does the same with MAX_INTERVAL_IN_NANO. */
  readonly maxIntervalMicros?: number;
}

export class PhiAccrualDetector {
  readonly threshold: number;
  private readonly windowSamplesMax: number;
  private readonly initialIntervalMicros: number;
  private readonly minStdDevMicros: number;
  private readonly acceptablePauseMicros: number;
  private readonly maxIntervalMicros: number;

  /** Ring buffer of recorded intervals; slot `head` is the next to write (and the oldest once full). */
  private readonly intervals: Float64Array;
  private head = 0;
  private count = 0;
  private sum = 0;
  private sumOfSquares = 0;
  /** Samples recorded since the sums were last recomputed from the buffer. */
  private recordsSinceRecompute = 0;
  private lastHeartbeatMicros: number | undefined = undefined;

  constructor(options: PhiAccrualOptions = {}) {
    this.threshold = options.threshold ?? PHI_THRESHOLD_DEFAULT;
    this.windowSamplesMax = options.windowSamplesMax ?? PHI_WINDOW_SAMPLES_MAX;
    this.initialIntervalMicros = options.initialIntervalMicros ?? INITIAL_INTERVAL_MICROS_DEFAULT;
    this.minStdDevMicros = options.minStdDevMicros ?? MIN_STD_DEV_MICROS_DEFAULT;
    this.acceptablePauseMicros = options.acceptablePauseMicros ?? 0;
    this.maxIntervalMicros =
      options.maxIntervalMicros ?? MAX_INTERVAL_FACTOR * this.initialIntervalMicros;
    requirePositive('threshold', this.threshold);
    if (!Number.isSafeInteger(this.windowSamplesMax) || this.windowSamplesMax < 1) {
      throw invalidArgument(
        `windowSamplesMax must be an integer >= 1, got ${this.windowSamplesMax}`,
      );
    }
    requirePositive('initialIntervalMicros', this.initialIntervalMicros);
    requirePositive('minStdDevMicros', this.minStdDevMicros);
    if (!(Number.isFinite(this.acceptablePauseMicros) && this.acceptablePauseMicros >= 0)) {
      throw invalidArgument(
        `acceptablePauseMicros must be >= 0, got ${this.acceptablePauseMicros}`,
      );
    }
    requirePositive('maxIntervalMicros', this.maxIntervalMicros);
    this.intervals = new Float64Array(this.windowSamplesMax);
  }

  /** How many intervals are recorded (at most windowSamplesMax). */
  /** When the last heartbeat arrived (µs), undefined before the first. */
  get lastHeartbeat(): number | undefined {
    return this.lastHeartbeatMicros;
  }

  get samples(): number {
    return this.count;
  }

  /**
   * Records a heartbeat heard at `nowMicros`. The interval since the previous heartbeat joins
   * the window unless it is longer than maxIntervalMicros; either way the silence restarts.
   * Time must not go backwards (the clock is monotonic); an earlier time is a caller bug.
   */
  heartbeat(nowMicros: number): void {
    requireTime(nowMicros);
    const last = this.lastHeartbeatMicros;
    if (last !== undefined) {
      if (nowMicros < last) {
        throw invalidArgument(`heartbeat at ${nowMicros} µs is before the last one at ${last} µs`);
      }
      const interval = nowMicros - last;
      if (interval <= this.maxIntervalMicros) this.record(interval);
    }
    this.lastHeartbeatMicros = nowMicros;
  }

  /**
   * Suspicion level at `nowMicros`: finite, >= 0, and non-decreasing in `nowMicros` between
   * heartbeats. 0 before the first heartbeat (there is nothing to be late for). A `nowMicros`
   * before the last heartbeat counts as no silence at all.
   */
  phi(nowMicros: number): number {
    requireTime(nowMicros);
    const last = this.lastHeartbeatMicros;
    if (last === undefined) return 0;
    const elapsed = Math.max(0, nowMicros - last);
    const y = clamp((elapsed - this.meanMicros()) / this.stdDevMicros(), Y_ABS_MAX);
    const z = y * (1.5976 + 0.070566 * y * y);
    // -log10(1 - F) with 1 - F = 1 / (1 + e^z), i.e. log10(1 + e^z), without overflow.
    const softplus = z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
    return softplus / Math.LN10;
  }

  /**
   * phi(nowMicros) < threshold. A never-heard endpoint (no heartbeat since construction or the
   * last reset) is NOT available: phi is 0 there only because there is no history, not because
   * there is evidence the endpoint is alive.
   */
  isAvailable(nowMicros: number): boolean {
    if (this.lastHeartbeatMicros === undefined) {
      requireTime(nowMicros);
      return false;
    }
    return this.phi(nowMicros) < this.threshold;
  }

  /** Forgets all history (the endpoint restarted with a new generation). */
  reset(): void {
    this.intervals.fill(0);
    this.head = 0;
    this.count = 0;
    this.sum = 0;
    this.sumOfSquares = 0;
    this.recordsSinceRecompute = 0;
    this.lastHeartbeatMicros = undefined;
  }

  private record(interval: number): void {
    if (this.count === this.windowSamplesMax) {
      const evicted = this.intervals[this.head]!;
      this.sum -= evicted;
      this.sumOfSquares -= evicted * evicted;
    } else {
      this.count++;
    }
    this.intervals[this.head] = interval;
    this.head = (this.head + 1) % this.windowSamplesMax;
    this.sum += interval;
    this.sumOfSquares += interval * interval;
    this.recordsSinceRecompute++;
    if (this.recordsSinceRecompute >= this.windowSamplesMax) this.recomputeSums();
  }

  /** Exact sums from the buffer; bounds the drift of the running sums to one window's worth. */
  private recomputeSums(): void {
    let sum = 0;
    let sumOfSquares = 0;
    for (let i = 0; i < this.count; i++) {
      const x = this.intervals[i]!;
      sum += x;
      sumOfSquares += x * x;
    }
    this.sum = sum;
    this.sumOfSquares = sumOfSquares;
    this.recordsSinceRecompute = 0;
  }

  private meanMicros(): number {
    const observed = this.count === 0 ? this.initialIntervalMicros : this.sum / this.count;
    return observed + this.acceptablePauseMicros;
  }

  private stdDevMicros(): number {
    if (this.count === 0) return Math.max(this.initialIntervalMicros / 4, this.minStdDevMicros);
    const mean = this.sum / this.count;
    // Rounding can make the difference slightly negative for near-constant intervals.
    const variance = Math.max(0, this.sumOfSquares / this.count - mean * mean);
    return Math.max(Math.sqrt(variance), this.minStdDevMicros);
  }
}

function requirePositive(name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) {
    throw invalidArgument(`${name} must be a finite number > 0, got ${value}`);
  }
}

function requireTime(nowMicros: number): void {
  if (!Number.isFinite(nowMicros)) {
    throw invalidArgument(`time must be a finite number of microseconds, got ${nowMicros}`);
  }
}

function clamp(value: number, absMax: number): number {
  return Math.min(absMax, Math.max(-absMax, value));
}
