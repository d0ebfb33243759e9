/**
 * Adding an (N+1)th node moves about 1/(N+1) of the data, and exactly the joiner's ranges
 * (src/sim/ring-growth.ts). N = 3 and 10 here; `tessera bench ring-growth` adds N = 100.
 */
import { describe, expect, it } from 'vitest';
import { measureRingGrowth } from './ring-growth.js';

describe('ring growth', () => {
  for (const [nodes, rows] of [
    [3, 2000],
    [10, 6000],
  ] as const) {
    it(`a node joining ${nodes} takes within 10% of 1/${nodes + 1} of the data, exactly its ranges`, async () => {
      const r = await measureRingGrowth({ seed: 5, nodes, rows, vnodes: 32 });
      expect(r.exact).toBe(true);
      expect(r.ratio).toBeGreaterThan(0.9);
      expect(r.ratio).toBeLessThan(1.1);
    }, 120_000);
  }
});
