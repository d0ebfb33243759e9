/**
 * The real clock. Monotonic time is CLOCK_MONOTONIC (performance.now()). Wall time is Date.now(),
 * which only has millisecond resolution, refined by the monotonic clock: a read returns
 * `monoMicros() + offset`, and the offset is re-anchored whenever that value strays from the
 * millisecond Date.now() reports by more than MAX_WALL_ERROR_MICROS. So reads have
 * microsecond resolution, never run backwards between re-anchors, and follow the wall clock
 * when it is stepped or slewed.
 */
import type { Clock } from '../types.js';

/** How far a refined wall read may stray from Date.now()'s millisecond before re-anchoring. */
const MAX_WALL_ERROR_MICROS = 1000;
/** Upper bound on the busy-wait for a millisecond edge when the clock is created. */
const CALIBRATION_SPIN_MAX_MICROS = 2000;
/** A wall read bracketed by monotonic reads further apart than this was preempted; retry. */
const BRACKET_MAX_MICROS = 100;
const BRACKET_ATTEMPTS_MAX = 3;

/**
 * Monotonic microseconds, comparable across every clock in this process. performance.now() is
 * CLOCK_MONOTONIC since the process started, in milliseconds with sub-microsecond precision;
 * unlike process.hrtime.bigint() it allocates nothing (two BigInts a read), and the RPC server
 * reads this clock twice a request.
 */
export function monoMicros(): number {
  return Math.floor(performance.now() * 1000);
}

export class RealClock implements Clock {
  /** Wall micros minus mono micros. */
  private offsetMicros: number;

  constructor() {
    this.offsetMicros = calibrateOffset();
  }

  nowMicros(): number {
    const refined = monoMicros() + this.offsetMicros;
    if (nearWall(refined, Date.now())) return refined;
    return this.reanchor();
  }

  monoMicros(): number {
    return monoMicros();
  }

  /**
   * Re-reads both clocks close together: the first read may just have been preempted
   * between its two halves. Only if the offset is still wrong is it moved, to the middle of
   * the wall clock's current millisecond.
   */
  private reanchor(): number {
    let mono = 0;
    let wallMs = 0;
    for (let attempt = 0; attempt < BRACKET_ATTEMPTS_MAX; attempt++) {
      const before = monoMicros();
      wallMs = Date.now();
      mono = monoMicros();
      if (mono - before <= BRACKET_MAX_MICROS) break;
    }
    if (!nearWall(mono + this.offsetMicros, wallMs)) {
      this.offsetMicros = wallMs * 1000 + 500 - mono;
    }
    return mono + this.offsetMicros;
  }
}

function nearWall(micros: number, wallMs: number): boolean {
  const start = wallMs * 1000;
  return micros >= start - MAX_WALL_ERROR_MICROS && micros < start + 1000 + MAX_WALL_ERROR_MICROS;
}

/**
 * Waits (at most CALIBRATION_SPIN_MAX_MICROS) for Date.now() to tick, so that the offset is
 * anchored at the start of a millisecond rather than somewhere inside it.
 */
function calibrateOffset(): number {
  const start = monoMicros();
  const first = Date.now();
  for (;;) {
    const mono = monoMicros();
    const wallMs = Date.now();
    if (wallMs !== first) return wallMs * 1000 - mono;
    if (mono - start > CALIBRATION_SPIN_MAX_MICROS) return wallMs * 1000 + 500 - mono;
  }
}
