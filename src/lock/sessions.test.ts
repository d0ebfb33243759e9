import { describe, expect, it } from 'vitest';
import { LockStateMachine } from './state-machine.js';
import type { LockCommand, LockResult } from './commands.js';

const empty = new Uint8Array(0);

function harness() {
  const sm = new LockStateMachine();
  let index = 0;
  const run = (cmd: LockCommand) => sm.apply(++index, cmd);
  const ok = (cmd: LockCommand): LockResult => {
    const r = run(cmd).result;
    if (r.type === 'error') throw new Error(`${r.code}: ${r.message}`);
    return r;
  };
  return { sm, run, ok };
}

describe('sessions', () => {
  it('keep-alives extend expiry; only expireSessions from the log expires', () => {
    const { sm, run, ok } = harness();
    expect(ok({ type: 'openSession', now: 100, id: 1, ttlMs: 50 })).toEqual({
      type: 'sessionOpened',
      session: 1,
      expiresAt: 150,
    });
    expect(run({ type: 'openSession', now: 100, id: 1, ttlMs: 50 }).result).toMatchObject({
      code: 'ALREADY_EXISTS',
    });
    expect(run({ type: 'openSession', now: 100, id: 0, ttlMs: 50 }).result).toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(ok({ type: 'keepAlive', now: 140, session: 1 })).toMatchObject({ expiresAt: 190 });
    // A stamp from the past (a new leader with a slower clock) never shortens a session.
    expect(ok({ type: 'keepAlive', now: 90, session: 1 })).toMatchObject({ expiresAt: 190 });
    expect(ok({ type: 'expireSessions', now: 189 })).toEqual({
      type: 'sessionsExpired',
      sessions: [],
    });
    // Past its expiry but not yet expired by the log: still alive.
    expect(sm.sessionsExpiredAt(195)).toEqual([1]);
    expect(ok({ type: 'keepAlive', now: 195, session: 1 })).toMatchObject({ expiresAt: 245 });
    expect(ok({ type: 'expireSessions', now: 245 })).toEqual({
      type: 'sessionsExpired',
      sessions: [1],
    });
    expect(sm.session(1)).toBeUndefined();
    expect(run({ type: 'keepAlive', now: 250, session: 1 }).result).toMatchObject({
      code: 'SESSION_EXPIRED',
    });
  });

  it('expiry deletes ephemeral nodes (with events) and keeps persistent ones', () => {
    const { sm, run, ok } = harness();
    ok({ type: 'openSession', now: 0, id: 1, ttlMs: 10 });
    ok({ type: 'openSession', now: 0, id: 2, ttlMs: 1000 });
    ok({ type: 'create', now: 1, path: '/svc', data: empty });
    ok({ type: 'create', now: 1, path: '/svc/b', data: empty, ephemeral: true, session: 1 });
    ok({ type: 'create', now: 1, path: '/svc/a', data: empty, ephemeral: true, session: 1 });
    ok({ type: 'create', now: 1, path: '/svc/c', data: empty, ephemeral: true, session: 2 });
    ok({ type: 'create', now: 1, path: '/svc/p', data: empty, session: 1 });
    expect(sm.stat('/svc/a').ephemeralOwner).toBe(1);
    expect(sm.stat('/svc/p').ephemeralOwner).toBe(0);
    expect(run({ type: 'create', now: 1, path: '/svc/a/x', data: empty }).result).toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect(
      run({ type: 'create', now: 1, path: '/e', data: empty, ephemeral: true, session: 9 }).result,
    ).toMatchObject({ code: 'SESSION_EXPIRED' });
    expect(
      run({ type: 'create', now: 1, path: '/e', data: empty, ephemeral: true }).result,
    ).toMatchObject({ code: 'INVALID_ARGUMENT' });
    const out = run({ type: 'expireSessions', now: 10 });
    expect(out.result).toEqual({ type: 'sessionsExpired', sessions: [1] });
    expect(out.events).toEqual([
      { path: '/svc/a', type: 'deleted' },
      { path: '/svc', type: 'childrenChanged' },
      { path: '/svc/b', type: 'deleted' },
      { path: '/svc', type: 'childrenChanged' },
    ]);
    expect(sm.list('/svc')).toEqual(['c', 'p']);
    const closed = run({ type: 'closeSession', now: 11, session: 2 });
    expect(closed.result).toEqual({ type: 'sessionClosed', session: 2 });
    expect(sm.list('/svc')).toEqual(['p']);
    expect(run({ type: 'closeSession', now: 11, session: 2 }).result).toMatchObject({
      code: 'SESSION_EXPIRED',
    });
  });
});
