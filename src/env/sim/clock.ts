import type { Clock, Timer, Timers } from '../types.js';
import { invalidArgument } from '../../util/errors.js';
import { never, type Kernel, type Lifetime } from './kernel.js';

/** 2026-01-01T00:00:00Z in microseconds since the Unix epoch: where simulated wall time starts. */
export const startWallMicrosDefault = 1_767_225_600_000_000;

export interface ClockSettings {
  /** Added to this node's wall clock (skew). May be changed at run time to model a jump. */
  readonly offsetMicros?: number;
  /** How fast this node's clocks run: +100 means 100 µs fast per second of virtual time. */
  readonly driftPpm?: number;
}

/**
 * A node's hardware clock. It belongs to the node, not the incarnation: a restarted process reads
 * the same (drifting) clock it read before the crash.
 *
 * Monotonic time is virtual time scaled by (1 + drift / 1e6). Changing the drift rebases the
 * scale at the current instant, so monotonic time stays continuous and never goes backwards.
 */
export class SimClock implements Clock {
  private offsetMicros: number;
  private rate: number;
  private baseVirtualMicros: number;
  private baseMonoMicros: number;

  constructor(
    private readonly virtualNowMicros: () => number,
    private readonly startWallMicros: number,
    settings: ClockSettings = {},
  ) {
    this.offsetMicros = settings.offsetMicros ?? 0;
    this.rate = rateOf(settings.driftPpm ?? 0);
    this.baseVirtualMicros = virtualNowMicros();
    this.baseMonoMicros = this.baseVirtualMicros * this.rate;
  }

  get driftPpm(): number {
    return (this.rate - 1) * 1e6;
  }

  set(settings: ClockSettings): void {
    if (settings.offsetMicros !== undefined) this.offsetMicros = settings.offsetMicros;
    if (settings.driftPpm !== undefined) {
      this.baseMonoMicros = this.exactMono();
      this.baseVirtualMicros = this.virtualNowMicros();
      this.rate = rateOf(settings.driftPpm);
    }
  }

  monoMicros(): number {
    // Rounding (not flooring) keeps 1000 ms at 1001 ppm from reading 1000999.9999 µs; it is
    // monotonic all the same, since the exact value is.
    return Math.round(this.exactMono());
  }

  nowMicros(): number {
    return Math.round(this.startWallMicros + this.offsetMicros + this.exactMono());
  }

  /**
   * Virtual microseconds until this clock has advanced by `delayMs`: the delay a timer of this
   * node really takes. Rounded up, so a timer never fires before its time by this clock.
   */
  virtualDelayMicros(delayMs: number): number {
    const wantMicros = delayMs * 1000;
    let virtual = Math.ceil(wantMicros / this.rate);
    if (virtual * this.rate < wantMicros) virtual++;
    return virtual;
  }

  private exactMono(): number {
    return this.baseMonoMicros + (this.virtualNowMicros() - this.baseVirtualMicros) * this.rate;
  }
}

function rateOf(driftPpm: number): number {
  if (!(Number.isFinite(driftPpm) && driftPpm > -1e6)) {
    throw invalidArgument(`clock drift must be finite and above -1e6 ppm, got ${driftPpm}`);
  }
  return 1 + driftPpm / 1e6;
}

const noTimer: Timer = { cancel() {} };

/**
 * The timers of one incarnation. Delays are measured by the node's own drifted clock; every
 * callback is an event owned by the incarnation, so a crash silences all of them at once.
 */
export class SimTimers implements Timers {
  constructor(
    private readonly kernel: Kernel,
    private readonly owner: Lifetime,
    private readonly clock: SimClock,
  ) {}

  after(delayMs: number, fn: () => void): Timer {
    const at = this.kernel.nowMicros() + this.clock.virtualDelayMicros(checkDelay(delayMs));
    return this.schedule(at, `timer ${this.owner.node} after=${delayMs}ms`, fn);
  }

  every(periodMs: number, fn: () => void): Timer {
    if (!(checkDelay(periodMs) > 0)) throw invalidArgument(`timer period must be > 0 ms`);
    if (!this.owner.alive) return noTimer;
    const kernel = this.kernel;
    const owner = this.owner;
    // Fire times step by a fixed virtual period from the first one, so slow callbacks do not
    // make the timer drift (like setInterval).
    const periodMicros = Math.max(1, this.clock.virtualDelayMicros(periodMs));
    const label = `timer ${owner.node} every=${periodMs}ms`;
    let next = kernel.nowMicros() + periodMicros;
    let cancelled = false;
    let event = kernel.schedule(next, owner, label, fire);
    function fire(): void {
      next += periodMicros;
      event = kernel.schedule(next, owner, label, fire);
      kernel.invoke(owner, fn);
    }
    return {
      cancel: () => {
        if (cancelled) return;
        cancelled = true;
        kernel.cancel(event);
      },
    };
  }

  defer(fn: () => void): Timer {
    return this.schedule(this.kernel.nowMicros(), `defer ${this.owner.node}`, fn);
  }

  sleep(delayMs: number): Promise<void> {
    if (!this.owner.alive) return never();
    return new Promise((resolve) => this.after(delayMs, resolve));
  }

  private schedule(atMicros: number, label: string, fn: () => void): Timer {
    if (!this.owner.alive) return noTimer;
    const kernel = this.kernel;
    const owner = this.owner;
    const event = kernel.schedule(atMicros, owner, label, () => kernel.invoke(owner, fn));
    return { cancel: () => kernel.cancel(event) };
  }
}

/** Negative delays run as soon as possible (like Node); NaN and infinity are caller bugs. */
function checkDelay(delayMs: number): number {
  if (!Number.isFinite(delayMs)) throw invalidArgument(`timer delay must be finite: ${delayMs}`);
  return Math.max(0, delayMs);
}
