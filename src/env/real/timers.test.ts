import { describe, expect, it } from 'vitest';
import { isTesseraError } from '../../util/errors.js';
import { RealTimers } from './timers.js';

const timers = new RealTimers();
const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('RealTimers', () => {
  it('after runs callbacks in deadline order', async () => {
    const order: number[] = [];
    timers.after(30, () => order.push(30));
    timers.after(10, () => order.push(10));
    timers.after(20, () => order.push(20));
    timers.after(0, () => order.push(0));
    await timers.sleep(60);
    expect(order).toEqual([0, 10, 20, 30]);
  });

  it('a cancelled timer never runs; cancel twice or after running is a no-op', async () => {
    const ran: string[] = [];
    const a = timers.after(5, () => ran.push('a'));
    const b = timers.after(5, () => ran.push('b'));
    a.cancel();
    a.cancel();
    await timers.sleep(20);
    b.cancel();
    expect(ran).toEqual(['b']);
  });

  it('every repeats until cancelled, also from inside its callback', async () => {
    let n = 0;
    const t = timers.every(2, () => {
      n++;
      if (n === 3) t.cancel();
    });
    await timers.sleep(60);
    expect(n).toBe(3);
  });

  it('defer runs after the current task and its microtasks', async () => {
    const order: string[] = [];
    timers.defer(() => order.push('deferred'));
    void Promise.resolve().then(() => order.push('microtask'));
    order.push('sync');
    await timers.sleep(5);
    expect(order).toEqual(['sync', 'microtask', 'deferred']);
    const cancelled = timers.defer(() => order.push('cancelled'));
    cancelled.cancel();
    await timers.sleep(5);
    expect(order).toHaveLength(3);
  });

  it('sleep resolves after about the delay', async () => {
    const start = performance.now();
    await timers.sleep(25);
    expect(performance.now() - start).toBeGreaterThanOrEqual(20);
  });

  it('treats negative delays as zero and refuses NaN, infinities and non-positive periods', async () => {
    let ran = false;
    timers.after(-5, () => (ran = true));
    await timers.sleep(5);
    expect(ran).toBe(true);
    for (const bad of [NaN, Infinity]) {
      expect(() => timers.after(bad, () => {})).toThrow(/finite/);
    }
    const err = (() => {
      try {
        timers.every(0, () => {});
      } catch (e) {
        return e;
      }
    })();
    expect(isTesseraError(err, 'INVALID_ARGUMENT')).toBe(true);
  });

  it('delays beyond setTimeout range wait instead of firing at once', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    let ran = false;
    const long = timers.after(2 ** 31 + 10, () => (ran = true));
    const longEvery = timers.every(2 ** 32, () => (ran = true));
    await wait(20);
    long.cancel();
    longEvery.cancel();
    process.off('warning', onWarning);
    expect(ran).toBe(false);
    expect(warnings).not.toContain('TimeoutOverflowWarning');
  });
});
