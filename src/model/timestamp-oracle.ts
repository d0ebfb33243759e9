/**
 * Server-assigned cell timestamps: the wall clock in microseconds, but strictly increasing per
 * oracle (one per tablet), so two writes to a row never share a timestamp even when the clock
 * stands still or steps back — a delete followed by a put of the same column must not have the
 * put masked by a tie (deletes win ties).
 */
import type { Clock } from '../env/index.js';

export class TimestampOracle {
  private last = -1;

  constructor(private readonly clock: Clock) {}

  /** A timestamp greater than every one this oracle handed out before. */
  next(): number {
    const now = Math.floor(this.clock.nowMicros());
    this.last = now > this.last ? now : this.last + 1;
    return this.last;
  }
}
