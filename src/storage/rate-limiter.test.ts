import { describe, expect, it } from 'vitest';
import { SimWorld } from '../env/sim/index.js';
import { RateLimiter } from './rate-limiter.js';

describe('RateLimiter', () => {
  it('holds background writes to the configured rate on virtual time', async () => {
    const world = new SimWorld({ seed: 1 });
    const env = world.addNode('n1').env;
    const limiter = new RateLimiter(env, 1_000_000); // 1 MB/s
    const start = env.clock.monoMicros();
    const run = (async () => {
      for (let i = 0; i < 40; i++) await limiter.acquire(100_000); // 4 MB
    })();
    await world.settle(run, { timeoutMs: 60_000 });
    const seconds = (env.clock.monoMicros() - start) / 1e6;
    // 4 MB at 1 MB/s, less the 0.1 s burst allowance.
    expect(seconds).toBeGreaterThan(3.8);
    expect(seconds).toBeLessThan(4.2);
  });

  it('never waits when unlimited', async () => {
    const world = new SimWorld({ seed: 2 });
    const env = world.addNode('n1').env;
    const limiter = new RateLimiter(env, 0);
    const start = env.clock.monoMicros();
    await world.settle(limiter.acquire(1e12), { timeoutMs: 1000 });
    expect(env.clock.monoMicros()).toBe(start);
  });
});
