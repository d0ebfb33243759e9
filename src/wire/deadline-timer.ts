/**
 * One timer for many deadlines. Instead of a timer per request, an owner keeps its deadlines
 * itself and this arms a single env timer for the earliest one. When it fires the owner sweeps
 * (expires what is due) and returns the earliest deadline left; finished requests need no
 * cancelling, they are simply gone at the next sweep. With equal timeouts — the common case —
 * deadlines arrive in order, so the timer is armed once per timeout period rather than once per
 * request; a sweep costs O(requests in flight), which is bounded.
 */
import type { Clock, Timer, Timers } from '../env/types.js';

export class DeadlineTimer {
  private timer: Timer | null = null;
  private armedFor = Number.POSITIVE_INFINITY;
  private readonly fire = (): void => {
    this.timer = null;
    this.armedFor = Number.POSITIVE_INFINITY;
    const now = this.clock.monoMicros();
    const next = this.sweep(now);
    if (next !== Number.POSITIVE_INFINITY) this.arm(next, now);
  };

  /**
   * `sweep(nowMicros)` expires everything due at `nowMicros` and returns the earliest remaining
   * deadline (monotonic microseconds), or +Infinity when none is left.
   */
  constructor(
    private readonly clock: Clock,
    private readonly timers: Timers,
    private readonly sweep: (nowMicros: number) => number,
  ) {}

  /** Makes sure a sweep runs at or after `deadlineMicros`; `nowMicros` is the current time. */
  schedule(deadlineMicros: number, nowMicros: number): void {
    if (deadlineMicros < this.armedFor) this.arm(deadlineMicros, nowMicros);
  }

  cancel(): void {
    if (this.timer !== null) this.timer.cancel();
    this.timer = null;
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  private arm(deadlineMicros: number, nowMicros: number): void {
    if (this.timer !== null) this.timer.cancel();
    this.armedFor = deadlineMicros;
    // Round up: firing a little late is harmless, firing early only costs a re-arm.
    const delayMs = Math.max(0, Math.ceil((deadlineMicros - nowMicros) / 1000));
    this.timer = this.timers.after(delayMs, this.fire);
  }
}
