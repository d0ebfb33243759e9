import { describe, expect, it } from 'vitest';
import { startWallMicrosDefault } from './clock.js';
import { SimWorld } from './world.js';

describe('simulated clocks', () => {
  it('starts wall time at the configured instant plus the node offset', () => {
    const world = new SimWorld({ seed: 1 });
    const a = world.addNode('a');
    const b = world.addNode('b', { clockOffsetMicros: -2_500 });
    expect(a.env.clock.nowMicros()).toBe(startWallMicrosDefault);
    expect(b.env.clock.nowMicros()).toBe(startWallMicrosDefault - 2_500);
    const custom = new SimWorld({ seed: 1, startWallMicros: 5_000_000 }).addNode('c');
    expect(custom.env.clock.nowMicros()).toBe(5_000_000);
  });

  it('drifts monotonic and wall time by the node rate', async () => {
    const world = new SimWorld({ seed: 1 });
    const fast = world.addNode('fast', { clockDriftPpm: 1_000 });
    const slow = world.addNode('slow', { clockDriftPpm: -1_000 });
    await world.run({ untilMs: 1_000 });
    expect(fast.env.clock.monoMicros()).toBe(1_001_000);
    expect(slow.env.clock.monoMicros()).toBe(999_000);
    expect(fast.env.clock.nowMicros() - slow.env.clock.nowMicros()).toBe(2_000);
  });

  it('fires timers by the node clock: a fast clock fires first', async () => {
    const world = new SimWorld({ seed: 1 });
    const fast = world.addNode('fast', { clockDriftPpm: 10_000 });
    const slow = world.addNode('slow', { clockDriftPpm: -10_000 });
    const fired: string[] = [];
    slow.env.timers.after(100, () => fired.push(`slow@${world.nowMicros()}`));
    fast.env.timers.after(100, () => fired.push(`fast@${world.nowMicros()}`));
    await world.run();
    // 100 ms of a clock 1% fast takes 99.0099 ms of virtual time (rounded up to the microsecond).
    expect(fired).toEqual(['fast@99010', 'slow@101011']);
  });

  it('never fires a timer before its delay has passed on the node clock', async () => {
    const world = new SimWorld({ seed: 1 });
    const node = world.addNode('n', { clockDriftPpm: 333 });
    const env = node.env;
    let checked = 0;
    for (let i = 1; i <= 200; i++) {
      const start = env.clock.monoMicros();
      const delayMs = i * 0.37;
      env.timers.after(delayMs, () => {
        expect(env.clock.monoMicros() - start).toBeGreaterThanOrEqual(delayMs * 1000 - 1);
        checked++;
      });
    }
    await world.run();
    expect(checked).toBe(200);
  });

  it('keeps monotonic time continuous when drift changes, and lets wall time jump', async () => {
    const world = new SimWorld({ seed: 1 });
    const node = world.addNode('n');
    await world.run({ untilMs: 100 });
    const before = node.env.clock.monoMicros();
    node.setClock({ driftPpm: 500_000, offsetMicros: -60_000_000 });
    expect(node.env.clock.monoMicros()).toBe(before);
    await world.run({ untilMs: 200 });
    expect(node.env.clock.monoMicros()).toBe(before + 150_000);
    expect(node.env.clock.nowMicros()).toBe(startWallMicrosDefault - 60_000_000 + before + 150_000);
  });

  it('runs defer after events already queued for the same instant', async () => {
    const world = new SimWorld({ seed: 1 });
    const env = world.addNode('n').env;
    const order: string[] = [];
    env.timers.after(0, () => {
      order.push('a');
      env.timers.defer(() => order.push('deferred'));
      env.timers.after(0, () => order.push('after0'));
    });
    env.timers.after(0, () => order.push('b'));
    await world.run();
    expect(order).toEqual(['a', 'b', 'deferred', 'after0']);
  });

  it('every keeps its period, and cancel (even from inside) stops it', async () => {
    const world = new SimWorld({ seed: 1 });
    const env = world.addNode('n').env;
    const times: number[] = [];
    const timer = env.timers.every(10, () => {
      times.push(world.nowMs());
      if (times.length === 4) timer.cancel();
    });
    await world.run({ untilMs: 1_000 });
    expect(times).toEqual([10, 20, 30, 40]);
    timer.cancel();
  });

  it('cancel prevents a timer; cancelling twice or after it ran is harmless', async () => {
    const world = new SimWorld({ seed: 1 });
    const env = world.addNode('n').env;
    let a = 0;
    let b = 0;
    const ta = env.timers.after(5, () => a++);
    const tb = env.timers.after(1, () => b++);
    ta.cancel();
    ta.cancel();
    await world.run();
    tb.cancel();
    expect([a, b]).toEqual([0, 1]);
  });

  it('sleep resolves at the delay; bad delays are rejected', async () => {
    const world = new SimWorld({ seed: 1 });
    const env = world.addNode('n').env;
    let woke = -1;
    void env.timers.sleep(42).then(() => (woke = world.nowMs()));
    await world.run();
    expect(woke).toBe(42);
    expect(() => env.timers.after(NaN, () => {})).toThrow(/finite/);
    expect(() => env.timers.every(0, () => {})).toThrow(/period/);
  });
});
