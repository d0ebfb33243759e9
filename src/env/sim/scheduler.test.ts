import { describe, expect, it } from 'vitest';
import { Prng } from '../../util/prng.js';
import type { Lifetime } from './kernel.js';
import { EventQueue } from './scheduler.js';

describe('EventQueue', () => {
  it('pops by time, then insertion order, across many random pushes', () => {
    const queue = new EventQueue();
    const prng = new Prng(9);
    const pushed: { at: number; seq: number }[] = [];
    for (let i = 0; i < 5_000; i++) {
      const at = prng.int(100);
      pushed.push({ at, seq: i });
      queue.push(at, null, `e${i}`, () => {});
    }
    const popped: string[] = [];
    for (let e = queue.pop(); e !== undefined; e = queue.pop()) popped.push(e.label);
    const expected = pushed.sort((a, b) => a.at - b.at || a.seq - b.seq).map((p) => `e${p.seq}`);
    expect(popped).toEqual(expected);
  });

  it('skips cancelled events and events of dead incarnations', () => {
    const queue = new EventQueue();
    const owner: Lifetime = { node: 'n1', incarnation: 1, alive: true };
    const a = queue.push(1, null, 'a', () => {});
    queue.push(2, owner, 'b', () => {});
    queue.push(3, null, 'c', () => {});
    queue.cancel(a);
    owner.alive = false;
    expect(queue.pop()?.label).toBe('c');
    expect(queue.pop()).toBeUndefined();
  });

  it('compacts when most of the heap is cancelled', () => {
    const queue = new EventQueue();
    for (let i = 0; i < 10_000; i++) queue.cancel(queue.push(i, null, 'x', () => {}));
    expect(queue.size).toBeLessThan(2_048);
    queue.push(5, null, 'live', () => {});
    expect(queue.pop()?.label).toBe('live');
  });
});
