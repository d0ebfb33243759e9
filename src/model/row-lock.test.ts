import { describe, expect, it } from 'vitest';
import { RowLocks } from './row-lock.js';

const row = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A promise and its resolver, to hold an operation open. */
function gate(): { readonly wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/** Lets every promise reaction queued so far (and those they queue) run. */
async function microtasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
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

  it('submits blind writes at once, in order, without waiting for earlier ones to finish', async () => {
    const locks = new RowLocks();
    const log: string[] = [];
    const first = gate();
    const second = gate();
    const a = locks.withRowWrite(row('r'), () => {
      log.push('submit 1');
      return first.wait.then(() => 1);
    });
    const b = locks.withRowWrite(row('r'), () => {
      log.push('submit 2');
      return second.wait.then(() => 2);
    });
    // Both submitted synchronously, while neither has finished.
    expect(log).toEqual(['submit 1', 'submit 2']);
    expect(locks.activeRows).toBe(1);
    second.open();
    expect(await b).toBe(2);
    first.open();
    expect(await a).toBe(1);
    await microtasks();
    expect(locks.activeRows).toBe(0);
  });

  it('starts an exclusive operation only after earlier blind writes finish', async () => {
    const locks = new RowLocks();
    const log: string[] = [];
    const write = gate();
    const w = locks.withRowWrite(row('r'), () => {
      log.push('write submitted');
      return write.wait.then(() => log.push('write done'));
    });
    const x = locks.withRow(row('r'), async () => {
      log.push('exclusive runs');
    });
    await microtasks();
    expect(log).toEqual(['write submitted']);
    write.open();
    await Promise.all([w, x]);
    expect(log).toEqual(['write submitted', 'write done', 'exclusive runs']);
  });

  it('holds blind writes behind a running exclusive operation, then keeps their order', async () => {
    const locks = new RowLocks();
    const log: string[] = [];
    const g = gate();
    const x = locks.withRow(row('r'), async () => {
      log.push('exclusive starts');
      await g.wait;
      log.push('exclusive ends');
    });
    const writes = [1, 2, 3].map((i) =>
      locks.withRowWrite(row('r'), () => {
        log.push(`submit ${i}`);
        return Promise.resolve(i);
      }),
    );
    await microtasks();
    expect(log).toEqual(['exclusive starts']);
    g.open();
    await x;
    expect(await Promise.all(writes)).toEqual([1, 2, 3]);
    expect(log).toEqual(['exclusive starts', 'exclusive ends', 'submit 1', 'submit 2', 'submit 3']);
  });

  it('frees a row after a blind write that fails or throws, for both kinds', async () => {
    const locks = new RowLocks();
    await expect(
      locks.withRowWrite(row('r'), () => Promise.reject(new Error('rejected'))),
    ).rejects.toThrow('rejected');
    await expect(
      locks.withRowWrite(row('r'), () => {
        throw new Error('thrown');
      }),
    ).rejects.toThrow('thrown');
    expect(await locks.withRow(row('r'), () => Promise.resolve('exclusive'))).toBe('exclusive');
    expect(await locks.withRowWrite(row('r'), () => Promise.resolve('write'))).toBe('write');
    await microtasks();
    expect(locks.activeRows).toBe(0);
  });
});
