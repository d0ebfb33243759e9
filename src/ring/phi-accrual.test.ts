import { describe, expect, it } from 'vitest';
import { isTesseraError } from '../util/errors.js';
import { Prng } from '../util/prng.js';
import {
  PHI_THRESHOLD_DEFAULT,
  PHI_WINDOW_SAMPLES_MAX,
  PhiAccrualDetector,
  type PhiAccrualOptions,
} from './phi-accrual.js';

const SECOND = 1_000_000;

/** Feeds heartbeats `intervals` apart, starting at `start`; returns the last heartbeat's time. */
function feed(d: PhiAccrualDetector, intervals: readonly number[], start = 0): number {
  let t = start;
  d.heartbeat(t);
  for (const interval of intervals) {
    t += interval;
    d.heartbeat(t);
  }
  return t;
}

function regular(count: number, interval = SECOND): number[] {
  return new Array<number>(count).fill(interval);
}

/** A detector that heard `beats` heartbeats exactly 1 s apart, and the last one's time. */
function regularDetector(
  options: PhiAccrualOptions = {},
  beats = 100,
): { d: PhiAccrualDetector; last: number } {
  const d = new PhiAccrualDetector(options);
  return { d, last: feed(d, regular(beats - 1)) };
}

/** The first microsecond of silence after `last` at which phi reaches the threshold. */
function timeToSuspicion(d: PhiAccrualDetector, last: number): number {
  let lo = 0; // phi below the threshold
  let hi = 1;
  while (d.phi(last + hi) < d.threshold) hi *= 2;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (d.phi(last + mid) >= d.threshold) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Akka's own expression for phi at y standard deviations past the mean (fine for small |y|). */
function akkaPhi(y: number): number {
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
  return y > 0 ? -Math.log10(e / (1 + e)) : -Math.log10(1 - 1 / (1 + e));
}

function expectRelativelyClose(actual: number, expected: number, tolerance = 1e-9): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tolerance * Math.max(1, expected));
}

function invalidArgumentOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isTesseraError(err) && err.code === 'INVALID_ARGUMENT') return err.message;
    throw err;
  }
  throw new Error('expected INVALID_ARGUMENT');
}

describe('PhiAccrualDetector before and after the first heartbeat', () => {
  it('reports phi 0 but NOT available for a never-heard endpoint', () => {
    const d = new PhiAccrualDetector();
    expect(d.phi(0)).toBe(0);
    expect(d.phi(1e12)).toBe(0);
    expect(d.isAvailable(0)).toBe(false);
    expect(d.isAvailable(1e12)).toBe(false);
    expect(d.samples).toBe(0);
    expect(d.threshold).toBe(PHI_THRESHOLD_DEFAULT);
  });

  it('uses initialIntervalMicros as the mean and a quarter of it as stdDev until an interval is recorded', () => {
    const d = new PhiAccrualDetector();
    d.heartbeat(5 * SECOND);
    expect(d.samples).toBe(0);
    expect(d.isAvailable(5 * SECOND)).toBe(true);
    expectRelativelyClose(d.phi(6 * SECOND), Math.log10(2));
    expectRelativelyClose(d.phi(6 * SECOND + 250_000), akkaPhi(1));
    expectRelativelyClose(d.phi(6 * SECOND + 500_000), akkaPhi(2));
  });

  it('bounds the prior stdDev below by minStdDevMicros', () => {
    const d = new PhiAccrualDetector({ initialIntervalMicros: 200_000 }); // quarter: 50 ms
    d.heartbeat(0);
    expectRelativelyClose(d.phi(200_000 + 100_000), akkaPhi(1));
  });
});

describe('PhiAccrualDetector formula', () => {
  it('matches Akka’s expression where that one does not overflow', () => {
    // Alternating 0.5 s and 1.5 s: mean exactly 1 s, population stdDev exactly 0.5 s.
    const d = new PhiAccrualDetector();
    const intervals = Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? 500_000 : 1_500_000));
    const last = feed(d, intervals);
    for (const y of [-2, -1, -0.5, 0, 0.5, 1, 2, 3, 4, 6]) {
      expectRelativelyClose(d.phi(last + SECOND + y * 500_000), akkaPhi(y));
    }
  });

  it('grows monotonically with silence, strictly while it is positive, for many histories', () => {
    const rng = new Prng(11);
    const jitter = Array.from({ length: 300 }, () => 500_000 + rng.int(1_000_001));
    const histories: readonly (readonly [PhiAccrualOptions, readonly number[]])[] = [
      [{}, []],
      [{}, regular(50)],
      [{}, jitter],
      [{ acceptablePauseMicros: 3 * SECOND }, regular(50)],
      [{ minStdDevMicros: 1 }, regular(50)],
    ];
    const offsets: number[] = [];
    for (let t = 0; t <= 20 * SECOND; t += 10_000) offsets.push(t);
    for (let t = 30 * SECOND; t <= 1e12; t *= 1.5) offsets.push(t);
    for (const [options, intervals] of histories) {
      const d = new PhiAccrualDetector(options);
      const last = feed(d, intervals, 1_000);
      let previous = -1;
      for (const offset of offsets) {
        const phi = d.phi(last + offset);
        expect(phi).toBeGreaterThanOrEqual(previous);
        if (previous > 0) expect(phi).toBeGreaterThan(previous);
        previous = phi;
      }
    }
  });

  it('counts a time before the last heartbeat as no silence', () => {
    const { d, last } = regularDetector();
    expect(d.phi(last - 10 * SECOND)).toBe(d.phi(last));
  });
});

describe('PhiAccrualDetector with regular 1 s heartbeats and the defaults', () => {
  it('stays well under the threshold right after each beat and at the next expected beat', () => {
    const d = new PhiAccrualDetector();
    for (let i = 0; i < 200; i++) {
      const now = i * SECOND;
      if (i > 0) expect(d.phi(now)).toBeLessThan(0.31); // log10(2) when exactly on time
      d.heartbeat(now);
      // The first beat is judged by the prior (y = -4); later ones by the 100 ms floor (y = -10).
      expect(d.phi(now)).toBeLessThan(i === 0 ? 1e-4 : 1e-30);
      expect(d.isAvailable(now)).toBe(true);
    }
  });

  it('crosses the threshold about 1.523 s after the last beat', () => {
    // y* solves y (1.5976 + 0.070566 y^2) = ln(1e8 - 1), y* ≈ 5.226; stdDev is the 100 ms floor.
    const { d, last } = regularDetector();
    const crossing = timeToSuspicion(d, last);
    expect(crossing).toBeGreaterThan(1_520_000);
    expect(crossing).toBeLessThan(1_525_000);
    expect(d.isAvailable(last + crossing - 1)).toBe(true);
    expect(d.isAvailable(last + crossing)).toBe(false);
  });

  it('gives the values in the file-top table', () => {
    const { d, last } = regularDetector();
    const table: readonly (readonly [number, number])[] = [
      [1, 0.30103],
      [2, 37.58],
      [3, 259.0],
      [5, 1989],
      [10, 22404],
    ];
    for (const [seconds, phi] of table) {
      expectRelativelyClose(d.phi(last + seconds * SECOND), phi, 5e-4);
    }
  });

  it('tolerates more with a larger minStdDevMicros or an acceptable pause', () => {
    const base = regularDetector();
    const crossing = timeToSuspicion(base.d, base.last);
    // The crossing sits at mean + y* · stdDev, so doubling the floor doubles the 523 ms.
    const wide = regularDetector({ minStdDevMicros: 200_000 });
    expect(timeToSuspicion(wide.d, wide.last) - SECOND).toBeCloseTo(2 * (crossing - SECOND), -1);
    const paused = regularDetector({ acceptablePauseMicros: 3 * SECOND });
    expect(timeToSuspicion(paused.d, paused.last)).toBe(crossing + 3 * SECOND);
    for (const offset of [0, 500_000, SECOND, 1_400_000, 2 * SECOND]) {
      expect(paused.d.phi(paused.last + offset + 3 * SECOND)).toBe(base.d.phi(base.last + offset));
    }
  });
});

describe('PhiAccrualDetector with jitter', () => {
  it('takes longer to suspect an irregular sender than a regular one with the same mean', () => {
    const rng = new Prng(2004);
    // Uniform in [0.5 s, 1.5 s]: mean ≈ 1 s, stdDev ≈ 289 ms, so the crossing is near 2.5 s.
    const intervals = Array.from({ length: 999 }, () => 500_000 + rng.int(1_000_001));
    const jittery = new PhiAccrualDetector();
    const jitteryLast = feed(jittery, intervals);
    const steady = regularDetector({}, 1000);
    const jitteryCrossing = timeToSuspicion(jittery, jitteryLast);
    const steadyCrossing = timeToSuspicion(steady.d, steady.last);
    expect(jitteryCrossing).toBeGreaterThan(steadyCrossing + 700_000);
    expect(jitteryCrossing).toBeGreaterThan(2_350_000);
    expect(jitteryCrossing).toBeLessThan(2_650_000);
    // At the steady sender's crossing time the jittery one is far from suspected.
    expect(jittery.phi(jitteryLast + steadyCrossing)).toBeLessThan(2);
  });
});

describe('PhiAccrualDetector window', () => {
  it('keeps at most windowSamplesMax intervals', () => {
    const d = new PhiAccrualDetector();
    feed(d, regular(4999));
    expect(d.samples).toBe(PHI_WINDOW_SAMPLES_MAX);
    const small = new PhiAccrualDetector({ windowSamplesMax: 7 });
    feed(small, regular(3));
    expect(small.samples).toBe(3);
    feed(small, regular(4999), 10 * SECOND);
    expect(small.samples).toBe(7);
  });

  it('forgets the oldest intervals: the mean is over the last windowSamplesMax only', () => {
    const d = new PhiAccrualDetector({ windowSamplesMax: 3 });
    const last = feed(
      d,
      [1, 2, 3, 4, 5].map((s) => s * SECOND),
    ); // window holds 3, 4, 5 s
    expect(d.phi(last + 4 * SECOND)).toBeCloseTo(Math.log10(2), 12);
    expect(d.phi(last + 3 * SECOND)).toBeLessThan(0.1);
  });

  it('after a change of pace, behaves as if it had only heard the new pace', () => {
    const d = new PhiAccrualDetector();
    const slowEnd = feed(d, regular(1000, 2 * SECOND));
    const last = feed(d, regular(1000), slowEnd + SECOND);
    const fresh = regularDetector({}, 1001);
    for (const offset of [0, 900_000, SECOND, 1_300_000, 2 * SECOND, 60 * SECOND]) {
      expectRelativelyClose(d.phi(last + offset), fresh.d.phi(fresh.last + offset), 1e-12);
    }
  });

  it('stays exact over many evictions of non-integer intervals', () => {
    const rng = new Prng(7);
    const window = 10;
    const intervals = Array.from({ length: 100_000 }, () => 400_000 + rng.float() * 1_200_000);
    const d = new PhiAccrualDetector({ windowSamplesMax: window });
    const last = feed(d, intervals, 123.456);
    const reference = new PhiAccrualDetector({ windowSamplesMax: window });
    const referenceLast = feed(reference, intervals.slice(-window), 0);
    for (const offset of [0, 700_000, SECOND, 1_500_000, 2 * SECOND]) {
      expectRelativelyClose(d.phi(last + offset), reference.phi(referenceLast + offset), 1e-6);
    }
  });
});

describe('PhiAccrualDetector long gaps', () => {
  it('does not record intervals longer than maxIntervalMicros (default 10 × initial)', () => {
    const d = new PhiAccrualDetector();
    const beforeGap = feed(d, regular(19));
    expect(d.samples).toBe(19);
    const afterGap = beforeGap + 60 * SECOND;
    d.heartbeat(afterGap);
    expect(d.samples).toBe(19);
    // The silence restarted at the late heartbeat, judged by the regular 1 s history.
    const reference = regularDetector({}, 20);
    for (const offset of [0, SECOND, 1_500_000, 3 * SECOND]) {
      expect(d.phi(afterGap + offset)).toBe(reference.d.phi(reference.last + offset));
    }
    d.heartbeat(afterGap + 10 * SECOND); // exactly the bound: recorded
    expect(d.samples).toBe(20);
    d.heartbeat(afterGap + 20 * SECOND + 1); // one microsecond over: not recorded
    expect(d.samples).toBe(20);
  });

  it('derives the default bound from initialIntervalMicros, and honours an explicit one', () => {
    const d = new PhiAccrualDetector({ initialIntervalMicros: 100_000 }); // bound 1 s
    feed(d, [SECOND, SECOND + 1, 500_000]);
    expect(d.samples).toBe(2);
    const explicit = new PhiAccrualDetector({ maxIntervalMicros: 90 * SECOND });
    feed(explicit, [60 * SECOND, 91 * SECOND]);
    expect(explicit.samples).toBe(1);
  });
});

describe('PhiAccrualDetector reset', () => {
  it('forgets the history and the last heartbeat', () => {
    const rng = new Prng(5);
    const d = new PhiAccrualDetector();
    const last = feed(
      d,
      Array.from({ length: 50 }, () => 500_000 + rng.int(1_000_001)),
    );
    d.reset();
    expect(d.samples).toBe(0);
    expect(d.phi(last + 3 * SECOND)).toBe(0);
    expect(d.isAvailable(last)).toBe(false);
    // Heard again: judged by the prior alone, exactly like a new detector.
    const restart = last + 100 * SECOND;
    d.heartbeat(restart);
    d.heartbeat(restart + SECOND);
    expect(d.samples).toBe(1);
    const fresh = new PhiAccrualDetector();
    fresh.heartbeat(0);
    fresh.heartbeat(SECOND);
    for (const offset of [0, SECOND, 1_200_000, 2 * SECOND]) {
      expect(d.phi(restart + SECOND + offset)).toBe(fresh.phi(SECOND + offset));
    }
  });
});

describe('PhiAccrualDetector robustness', () => {
  it('never returns NaN or Infinity, even after 1e12 µs of silence or at extreme times', () => {
    const cases: readonly PhiAccrualOptions[] = [
      {},
      { minStdDevMicros: 1e-300 },
      { acceptablePauseMicros: 1e15 },
      { windowSamplesMax: 1, initialIntervalMicros: 1 },
    ];
    for (const options of cases) {
      for (const beats of [1, 2, 100]) {
        const { d, last } = regularDetector(options, beats);
        for (const now of [last + 1e12, last + 1e15, 1e300, Number.MAX_VALUE, last - 1e300]) {
          const phi = d.phi(now);
          expect(Number.isFinite(phi)).toBe(true);
          expect(phi).toBeGreaterThanOrEqual(0);
        }
        if (options.acceptablePauseMicros === undefined) {
          expect(d.phi(last + 1e12)).toBeGreaterThan(PHI_THRESHOLD_DEFAULT);
          expect(d.isAvailable(last + 1e12)).toBe(false);
        }
      }
    }
  });

  it('records a zero interval (two heartbeats in the same microsecond)', () => {
    const d = new PhiAccrualDetector();
    feed(d, [SECOND, 0]);
    expect(d.samples).toBe(2);
  });

  it('rejects time going backwards and non-finite times', () => {
    const d = new PhiAccrualDetector();
    d.heartbeat(10 * SECOND);
    expect(invalidArgumentOf(() => d.heartbeat(10 * SECOND - 1))).toMatch(/before the last/);
    expect(d.samples).toBe(0);
    for (const bad of [NaN, Infinity, -Infinity]) {
      invalidArgumentOf(() => d.heartbeat(bad));
      invalidArgumentOf(() => d.phi(bad));
      invalidArgumentOf(() => new PhiAccrualDetector().isAvailable(bad));
    }
  });

  it('rejects options outside their ranges', () => {
    const bad: readonly PhiAccrualOptions[] = [
      { threshold: 0 },
      { threshold: NaN },
      { windowSamplesMax: 0 },
      { windowSamplesMax: 2.5 },
      { initialIntervalMicros: 0 },
      { initialIntervalMicros: Infinity },
      { minStdDevMicros: 0 },
      { minStdDevMicros: -1 },
      { acceptablePauseMicros: -1 },
      { acceptablePauseMicros: NaN },
      { maxIntervalMicros: 0 },
    ];
    for (const options of bad) invalidArgumentOf(() => new PhiAccrualDetector(options));
    expect(new PhiAccrualDetector({ threshold: 3 }).threshold).toBe(3);
  });
});
