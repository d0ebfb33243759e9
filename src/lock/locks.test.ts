import { describe, expect, it } from 'vitest';
import { LockStateMachine } from './state-machine.js';
import type { LockCommand, LockMode } from './commands.js';

function harness(sessions: number) {
  const sm = new LockStateMachine();
  let index = 0;
  const run = (cmd: LockCommand) => sm.apply(++index, cmd);
  for (let id = 1; id <= sessions; id++) run({ type: 'openSession', now: 0, id, ttlMs: 1000 });
  const acquire = (session: number, mode: LockMode, path = '/lk') =>
    run({ type: 'acquireLock', now: 1, path, session, mode });
  const release = (session: number, path = '/lk') =>
    run({ type: 'releaseLock', now: 1, path, session });
  const holders = (path = '/lk') => sm.lockState(path).holders.map((h) => h.session);
  const waiters = (path = '/lk') => sm.lockState(path).waiters.map((h) => h.session);
  return { sm, run, acquire, release, holders, waiters };
}

describe('locks', () => {
  it('exclusive locks queue FIFO and pass on release', () => {
    const { acquire, release, holders, waiters } = harness(3);
    expect(acquire(1, 'exclusive').result).toMatchObject({ type: 'lockGranted', token: 1 });
    expect(acquire(2, 'exclusive').result).toMatchObject({ type: 'lockQueued', position: 0 });
    expect(acquire(3, 'exclusive').result).toMatchObject({ type: 'lockQueued', position: 1 });
    // Re-acquiring is idempotent.
    expect(acquire(1, 'exclusive').result).toMatchObject({ type: 'lockGranted', token: 1 });
    expect(acquire(3, 'exclusive').result).toMatchObject({ type: 'lockQueued', position: 1 });
    expect(acquire(1, 'shared').result).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(release(1).grants).toEqual([{ path: '/lk', session: 2, mode: 'exclusive', token: 2 }]);
    expect(holders()).toEqual([2]);
    expect(waiters()).toEqual([3]);
    expect(release(1).result).toMatchObject({ code: 'LOCK_NOT_HELD' });
    expect(release(2).grants).toMatchObject([{ session: 3, token: 3 }]);
    expect(release(3).grants).toEqual([]);
    expect(holders()).toEqual([]);
  });

  it('shared holders coexist; a queued exclusive request is not overtaken', () => {
    const { acquire, release, holders, waiters } = harness(5);
    expect(acquire(1, 'shared').result.type).toBe('lockGranted');
    expect(acquire(2, 'shared').result.type).toBe('lockGranted');
    expect(acquire(3, 'exclusive').result.type).toBe('lockQueued');
    expect(acquire(4, 'shared').result.type).toBe('lockQueued'); // behind the writer
    expect(acquire(5, 'shared').result.type).toBe('lockQueued');
    expect(holders()).toEqual([1, 2]);
    expect(release(1).grants).toEqual([]);
    expect(release(2).grants.map((g) => g.session)).toEqual([3]);
    // The writer leaves: both shared waiters are granted together, with distinct tokens.
    const g = release(3).grants;
    expect(g.map((x) => [x.session, x.mode])).toEqual([
      [4, 'shared'],
      [5, 'shared'],
    ]);
    expect(g[1]!.token).toBeGreaterThan(g[0]!.token);
    expect(holders()).toEqual([4, 5]);
    expect(waiters()).toEqual([]);
  });

  it('withdrawing a waiter can unblock those behind it', () => {
    const { acquire, release, holders } = harness(3);
    acquire(1, 'shared');
    acquire(2, 'exclusive');
    acquire(3, 'shared');
    expect(release(2).grants.map((g) => g.session)).toEqual([3]);
    expect(holders()).toEqual([1, 3]);
  });

  it('sequencers strictly increase across locks; stale ones are refused', () => {
    const { sm, run, acquire, release } = harness(3);
    const t1 = acquire(1, 'exclusive', '/a').result;
    const t2 = acquire(2, 'exclusive', '/b').result;
    expect(t1).toMatchObject({ token: 1 });
    expect(t2).toMatchObject({ token: 2 });
    acquire(3, 'exclusive', '/a');
    expect(sm.checkSequencer('/a', 1)).toBe(true);
    expect(sm.checkSequencer('/b', 1)).toBe(false); // a token names one lock
    const granted = release(1, '/a').grants[0]!;
    expect(granted.token).toBe(3);
    expect(sm.checkSequencer('/a', 1)).toBe(false); // the old holder is now stale
    expect(sm.checkSequencer('/a', 3)).toBe(true);
    // Session expiry releases its locks; its token goes stale and the next waiter gets one.
    acquire(1, 'exclusive', '/b');
    const out = run({ type: 'closeSession', now: 2, session: 2 });
    expect(out.grants).toEqual([{ path: '/b', session: 1, mode: 'exclusive', token: 4 }]);
    expect(sm.checkSequencer('/b', 2)).toBe(false);
    expect(sm.checkSequencer('/b', 4)).toBe(true);
  });

  it('expired sessions lose locks and queue places', () => {
    const { sm, run, acquire } = harness(0);
    run({ type: 'openSession', now: 0, id: 1, ttlMs: 10 });
    run({ type: 'openSession', now: 0, id: 2, ttlMs: 100 });
    run({ type: 'openSession', now: 0, id: 3, ttlMs: 10 });
    acquire(1, 'exclusive');
    acquire(3, 'exclusive');
    acquire(2, 'exclusive');
    expect(acquire(9, 'exclusive').result).toMatchObject({ code: 'SESSION_EXPIRED' });
    const out = run({ type: 'expireSessions', now: 50 });
    expect(out.result).toEqual({ type: 'sessionsExpired', sessions: [1, 3] });
    expect(out.grants.map((g) => g.session)).toEqual([2]);
    expect(sm.lockState('/lk').waiters).toEqual([]);
  });
});
