import { describe, expect, it } from 'vitest';
import { RowLocks } from './row-lock.js';

const row = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A promise and its resolver, to hold an operation open. */
function gate(): { readonly wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

describe('RowLocks', () => {
  it('runs the operations of one row one at a time, in arrival order', async () => {
    const locks = new RowLocks();
    const log: string[] = [];
    const g = gate();
    const first = locks.withRow(row('r'), async () => {
      log.push('first starts');
      await g.wait;
      log.push('first ends');
      return 1;
    });
    const second = locks.withRow(row('r'), async () => {
      log.push('second runs');
      return 2;
    });
    await Promise.resolve();
    await Promise.resolve();
    expect(log).toEqual(['first starts']);
    expect(locks.activeRows).toBe(1);
    g.open();
    expect(await first).toBe(1);
    expect(await second).toBe(2);
    expect(log).toEqual(['first starts', 'first ends', 'second runs']);
    expect(locks.activeRows).toBe(0);
  });

  it('lets other rows go ahead, and frees a row whose operation failed', async () => {
    const locks = new RowLocks();
    const g = gate();
    const held = locks.withRow(row('a'), () => g.wait);
    // Another row does not wait for the held one.
    expect(await locks.withRow(row('b'), () => Promise.resolve('b'))).toBe('b');
    g.open();
    await held;
    await expect(locks.withRow(row('a'), () => Promise.reject(new Error('boom')))).rejects.toThrow(
      'boom',
    );
    expect(await locks.withRow(row('a'), () => Promise.resolve('after'))).toBe('after');
    expect(locks.activeRows).toBe(0);
  });
});
