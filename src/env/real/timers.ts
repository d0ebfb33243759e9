/**
 * The real Timers, on Node's setTimeout, setInterval and setImmediate. Timers keep the
 * process alive (they are not unref'd). Node fires any delay above TIMEOUT_MAX_MS after 1 ms
 * (with a TimeoutOverflowWarning), so longer delays are chained here instead.
 */
import { invalidArgument } from '../../util/errors.js';
import type { Timer, Timers } from '../types.js';

/** The longest delay Node's setTimeout honours (2^31 - 1 ms, about 24.8 days). */
const TIMEOUT_MAX_MS = 2 ** 31 - 1;

export class RealTimers implements Timers {
  after(delayMs: number, fn: () => void): Timer {
    return new TimeoutTimer(checkDelay(delayMs, 'delayMs'), fn);
  }

  every(periodMs: number, fn: () => void): Timer {
    const period = checkDelay(periodMs, 'periodMs');
    if (period <= 0) throw invalidArgument(`periodMs must be positive, got ${periodMs}`);
    return period <= TIMEOUT_MAX_MS
      ? new IntervalTimer(period, fn)
      : new LongIntervalTimer(period, fn);
  }

  defer(fn: () => void): Timer {
    return new ImmediateTimer(fn);
  }

  async sleep(delayMs: number): Promise<void> {
    const delay = checkDelay(delayMs, 'delayMs');
    return new Promise((resolve) => new TimeoutTimer(delay, resolve));
  }
}

/** Negative delays mean "now" (a deadline already passed); NaN and infinities are bugs. */
function checkDelay(ms: number, name: string): number {
  if (!Number.isFinite(ms)) throw invalidArgument(`${name} must be a finite number, got ${ms}`);
  return ms < 0 ? 0 : ms;
}

class TimeoutTimer implements Timer {
  private handle: NodeJS.Timeout | undefined;

  constructor(delayMs: number, fn: () => void) {
    this.arm(delayMs, fn);
  }

  private arm(remainingMs: number, fn: () => void): void {
    if (remainingMs <= TIMEOUT_MAX_MS) {
      this.handle = setTimeout(() => {
        this.handle = undefined;
        fn();
      }, remainingMs);
    } else {
      this.handle = setTimeout(() => this.arm(remainingMs - TIMEOUT_MAX_MS, fn), TIMEOUT_MAX_MS);
    }
  }

  cancel(): void {
    clearTimeout(this.handle);
    this.handle = undefined;
  }
}

class IntervalTimer implements Timer {
  private readonly handle: NodeJS.Timeout;

  constructor(periodMs: number, fn: () => void) {
    this.handle = setInterval(fn, periodMs);
  }

  cancel(): void {
    clearInterval(this.handle);
  }
}

/** A period too long for setInterval: one chained timeout per period. */
class LongIntervalTimer implements Timer {
  private current: Timer;

  constructor(periodMs: number, fn: () => void) {
    const tick = (): void => {
      this.current = new TimeoutTimer(periodMs, tick);
      fn();
    };
    this.current = new TimeoutTimer(periodMs, tick);
  }

  cancel(): void {
    this.current.cancel();
  }
}

class ImmediateTimer implements Timer {
  private readonly handle: NodeJS.Immediate;

  constructor(fn: () => void) {
    this.handle = setImmediate(fn);
  }

  cancel(): void {
    clearImmediate(this.handle);
  }
}
