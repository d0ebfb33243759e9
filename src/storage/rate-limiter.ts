/**
 * A token bucket for background I/O: compaction and flush call `acquire(bytes)` before each
 * write so that background work cannot take the whole disk from foreground writes and reads.
 * Time comes from the Env, so the simulator runs it on virtual time.
 */
import type { Env } from '../env/types.js';

/** Burst allowance: at most this many seconds' worth of tokens accumulate while idle. */
const burstSeconds = 0.1;

export class RateLimiter {
  private tokens: number;
  private lastMicros: number;

  /** `bytesPerSec` 0 means unlimited. */
  constructor(
    private readonly env: Env,
    readonly bytesPerSec: number,
  ) {
    this.tokens = bytesPerSec * burstSeconds;
    this.lastMicros = env.clock.monoMicros();
  }

  private refill(): void {
    const now = this.env.clock.monoMicros();
    const cap = this.bytesPerSec * burstSeconds;
    this.tokens = Math.min(cap, this.tokens + ((now - this.lastMicros) / 1e6) * this.bytesPerSec);
    this.lastMicros = now;
  }

  /** Waits until `bytes` may be written. Requests larger than the burst just wait longer. */
  async acquire(bytes: number): Promise<void> {
    if (this.bytesPerSec <= 0) return;
    this.refill();
    this.tokens -= bytes;
    if (this.tokens >= 0) return;
    const waitMs = (-this.tokens / this.bytesPerSec) * 1000;
    await this.env.timers.sleep(waitMs);
    this.refill();
  }
}
