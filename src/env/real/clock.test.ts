import { describe, expect, it } from 'vitest';
import { RealClock } from './clock.js';

describe('RealClock', () => {
  it('nowMicros stays anchored to the wall clock', () => {
    const clock = new RealClock();
    for (let i = 0; i < 1000; i++) {
      const before = Date.now() * 1000;
      const now = clock.nowMicros();
      const after = Date.now() * 1000;
      expect(Number.isSafeInteger(now)).toBe(true);
      // Within Date.now()'s millisecond, give or take the re-anchoring tolerance.
      expect(now).toBeGreaterThanOrEqual(before - 2000);
      expect(now).toBeLessThan(after + 3000);
    }
  });

  it('nowMicros has sub-millisecond resolution and does not run backwards', () => {
    const clock = new RealClock();
    let last = clock.nowMicros();
    let subMillisecond = 0;
    for (let i = 0; i < 2000; i++) {
      const now = clock.nowMicros();
      expect(now).toBeGreaterThanOrEqual(last);
      if (now % 1000 !== 0) subMillisecond++;
      last = now;
    }
    expect(subMillisecond).toBeGreaterThan(1000);
  });

  it('monoMicros never goes backwards and tracks elapsed time', async () => {
    const clock = new RealClock();
    let last = clock.monoMicros();
    for (let i = 0; i < 1000; i++) {
      const now = clock.monoMicros();
      expect(Number.isSafeInteger(now)).toBe(true);
      expect(now).toBeGreaterThanOrEqual(last);
      last = now;
    }
    const start = clock.monoMicros();
    await new Promise((resolve) => setTimeout(resolve, 30));
    const elapsed = clock.monoMicros() - start;
    expect(elapsed).toBeGreaterThan(20_000);
    expect(elapsed).toBeLessThan(30_000_000);
  });

  it('two clocks in one process agree on monotonic time', () => {
    const a = new RealClock();
    const b = new RealClock();
    const ta = a.monoMicros();
    const tb = b.monoMicros();
    expect(tb - ta).toBeGreaterThanOrEqual(0);
    expect(tb - ta).toBeLessThan(1_000_000);
  });
});
