/** Random lock commands for property tests: a small world of paths and sessions so that
 * commands collide (conflicts, CAS failures, lock contention) often. */
import type { LockCommand, LockMode, MultiOp } from '../commands.js';
import type { Prng } from '../../util/prng.js';

const PATHS = ['/a', '/a/b', '/a/c', '/a/b/d', '/b', '/b/x', '/c', '/a/b/', 'nope', '/a/./b'];
const LOCKS = ['/locks/m', '/locks/n', '/locks/o'];

function path(rng: Prng): string {
  return rng.chance(0.05) ? rng.pick(PATHS.slice(7)) : rng.pick(PATHS.slice(0, 7));
}

function version(rng: Prng): number | undefined {
  return rng.chance(0.5) ? undefined : rng.int(3);
}

function op(rng: Prng): MultiOp {
  const v = version(rng);
  switch (rng.int(4)) {
    case 0:
      return {
        type: 'create',
        path: path(rng),
        data: rng.bytes(rng.int(8)),
        ephemeral: rng.chance(0.3),
        sequential: rng.chance(0.2),
        ...(rng.chance(0.8) ? { session: rng.between(1, 4) } : {}),
      };
    case 1:
      return {
        type: 'set',
        path: path(rng),
        data: rng.bytes(rng.int(8)),
        ...(v === undefined ? {} : { expectedVersion: v }),
      };
    case 2:
      return {
        type: 'delete',
        path: path(rng),
        ...(v === undefined ? {} : { expectedVersion: v }),
      };
    default:
      return { type: 'check', path: path(rng), ...(v === undefined ? {} : { expectedVersion: v }) };
  }
}

/** One random command stamped `now`. */
export function randomCommand(rng: Prng, now: number): LockCommand {
  const session = rng.between(1, 4);
  const r = rng.int(100);
  if (r < 8) return { type: 'openSession', now, id: session, ttlMs: rng.between(10, 100) };
  if (r < 16) return { type: 'keepAlive', now, session };
  if (r < 19) return { type: 'closeSession', now, session };
  if (r < 25) return { type: 'expireSessions', now };
  if (r < 60) {
    const o = op(rng);
    if (o.type !== 'check') return { ...o, now };
    return { type: 'delete', path: o.path, now };
  }
  if (r < 70) {
    const ops: MultiOp[] = [];
    for (let i = rng.int(4); i >= 0; i--) ops.push(op(rng));
    return { type: 'multi', now, ops };
  }
  const mode: LockMode = rng.chance(0.5) ? 'shared' : 'exclusive';
  if (r < 87) return { type: 'acquireLock', now, path: rng.pick(LOCKS), session, mode };
  return { type: 'releaseLock', now, path: rng.pick(LOCKS), session };
}

/** `n` random commands with stamps that mostly advance (and sometimes step back). */
export function randomCommands(rng: Prng, n: number): LockCommand[] {
  const out: LockCommand[] = [];
  let now = 1000;
  for (let i = 0; i < n; i++) {
    now = Math.max(0, now + rng.between(-5, 20));
    out.push(randomCommand(rng, now));
  }
  return out;
}
