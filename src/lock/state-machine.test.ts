import { describe, expect, it } from 'vitest';
import { LockStateMachine, type ApplyOutput } from './state-machine.js';
import { decodeCommand, encodeCommand } from './commands.js';
import { randomCommands } from './testdata/random-commands.js';
import { Prng } from '../util/prng.js';
import { isTesseraError } from '../util/errors.js';

function replay(
  cmds: readonly ReturnType<typeof randomCommands>[number][],
  sm = new LockStateMachine(),
  from = 1,
): { sm: LockStateMachine; outputs: ApplyOutput[] } {
  const outputs = cmds.map((c, i) => sm.apply(from + i, c));
  return { sm, outputs };
}

/** Everything observable through reads: the tree, the sessions and the test world's locks. */
function dump(sm: LockStateMachine): unknown {
  const nodes: unknown[] = [];
  const walk = (p: string): void => {
    nodes.push([p, sm.get(p)]);
    for (const c of sm.list(p)) walk(p === '/' ? `/${c}` : `${p}/${c}`);
  };
  walk('/');
  const locks = ['/locks/m', '/locks/n', '/locks/o'].map((p) => sm.lockState(p));
  return { nodes, sessions: sm.allSessions(), locks };
}

describe('LockStateMachine', () => {
  it('a failed command (a multi included) changes nothing observable', () => {
    let failedMultis = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const sm = new LockStateMachine();
      randomCommands(new Prng(seed), 150).forEach((cmd, i) => {
        const before = dump(sm);
        const out = sm.apply(i + 1, cmd);
        if (out.result.type !== 'error') return;
        if (cmd.type === 'multi' && (out.result.opIndex ?? 0) > 0) failedMultis++;
        expect(dump(sm), `seed ${seed} command ${i}`).toEqual(before);
      });
    }
    expect(failedMultis).toBeGreaterThan(20);
  });

  it('replicas applying the same log agree on every result and on the snapshot', () => {
    for (let seed = 1; seed <= 150; seed++) {
      const cmds = randomCommands(new Prng(seed), 150);
      const a = replay(cmds);
      // The second replica receives the commands through the log codec.
      const b = replay(cmds.map((c) => decodeCommand(encodeCommand(c))));
      expect(b.outputs, `seed ${seed}`).toEqual(a.outputs);
      expect(b.sm.snapshot(), `seed ${seed}`).toEqual(a.sm.snapshot());
    }
  });

  it('the random world exercises every outcome', () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 60; seed++) {
      for (const o of replay(randomCommands(new Prng(seed), 150)).outputs) {
        seen.add(o.result.type === 'error' ? o.result.code : o.result.type);
      }
    }
    for (const k of [
      'sessionOpened',
      'keptAlive',
      'sessionClosed',
      'sessionsExpired',
      'created',
      'set',
      'deleted',
      'multi',
      'lockGranted',
      'lockQueued',
      'lockReleased',
      'NOT_FOUND',
      'ALREADY_EXISTS',
      'BAD_VERSION',
      'NOT_EMPTY',
      'SESSION_EXPIRED',
      'LOCK_NOT_HELD',
      'INVALID_PATH',
    ]) {
      expect(seen, k).toContain(k);
    }
  });

  it('restore(snapshot()) is the same state: same bytes and same future', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const rng = new Prng(seed * 7919);
      const cmds = randomCommands(rng, 200);
      const cut = rng.int(200);
      const live = replay(cmds.slice(0, cut)).sm;
      const snap = live.snapshot();
      const restored = LockStateMachine.restore(snap);
      expect(restored.snapshot(), `seed ${seed}`).toEqual(snap);
      expect(restored.lastApplied).toBe(live.lastApplied);
      const rest = cmds.slice(cut);
      const x = replay(rest, live, cut + 1);
      const y = replay(rest, restored, cut + 1);
      expect(y.outputs, `seed ${seed}`).toEqual(x.outputs);
      expect(y.sm.snapshot()).toEqual(x.sm.snapshot());
    }
  });

  it('a snapshot written in slices holds the state of when it began, while commands go on', () => {
    let interleaved = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const rng = new Prng(seed * 104_729);
      const cmds = randomCommands(rng, 300);
      const cut = 50 + rng.int(150);
      const live = replay(cmds.slice(0, cut)).sm;
      const expected = live.snapshot();
      const writer = live.beginSnapshot({ nodes: 1 + rng.int(3), bytes: 64 });
      let next = cut;
      let data: Uint8Array | undefined;
      while ((data = writer.step()) === undefined) {
        for (let k = rng.int(6); k > 0 && next < cmds.length; k--, next++) {
          live.apply(next + 1, cmds[next]!);
          interleaved++;
        }
      }
      expect(data, `seed ${seed}`).toEqual(expected);
      // The live state took every command as if no snapshot had run.
      for (; next < cmds.length; next++) live.apply(next + 1, cmds[next]!);
      expect(live.snapshot(), `seed ${seed}`).toEqual(replay(cmds).sm.snapshot());
    }
    expect(interleaved).toBeGreaterThan(400);
  });

  it('a cancelled sliced snapshot leaves the state alone and lets the next one begin', () => {
    const cmds = randomCommands(new Prng(5), 200);
    const live = replay(cmds.slice(0, 100)).sm;
    const writer = live.beginSnapshot({ nodes: 1, bytes: 64 });
    expect(writer.step()).toBeUndefined();
    expect(() => live.beginSnapshot()).toThrow(/already in progress/);
    writer.cancel();
    cmds.slice(100).forEach((c, i) => live.apply(101 + i, c));
    expect(live.snapshot()).toEqual(replay(cmds).sm.snapshot());
    expect(() => writer.step()).toThrow(/cancelled/);
  });

  it('snapshots are deterministic: equal for equal state regardless of history order', () => {
    const a = new LockStateMachine();
    a.apply(1, { type: 'openSession', now: 0, id: 2, ttlMs: 10 });
    a.apply(2, { type: 'openSession', now: 0, id: 1, ttlMs: 10 });
    const b = new LockStateMachine();
    b.apply(1, { type: 'openSession', now: 0, id: 1, ttlMs: 10 });
    b.apply(2, { type: 'openSession', now: 0, id: 2, ttlMs: 10 });
    expect(a.snapshot()).toEqual(b.snapshot());
  });

  it('a damaged snapshot is CORRUPTION', () => {
    const sm = replay(randomCommands(new Prng(3), 200)).sm;
    const snap = sm.snapshot();
    const rng = new Prng(11);
    for (let i = 0; i < 300; i++) {
      const bad = snap.slice(0, rng.chance(0.3) ? rng.int(snap.length) : snap.length);
      if (bad.length === snap.length) {
        const at = rng.int(bad.length);
        bad[at] = bad[at]! ^ (1 << rng.int(8));
      }
      let code: string | undefined;
      try {
        LockStateMachine.restore(bad);
      } catch (e) {
        code = isTesseraError(e) ? e.code : 'other';
      }
      expect(code).toBe('CORRUPTION');
    }
  });

  it('refuses to apply an index twice or out of order', () => {
    const sm = new LockStateMachine();
    sm.apply(5, { type: 'expireSessions', now: 1 });
    expect(() => sm.apply(5, { type: 'expireSessions', now: 1 })).toThrow(/apply of index/);
    expect(() => sm.apply(4, { type: 'expireSessions', now: 1 })).toThrow(/apply of index/);
  });

  it('a bad stamp is an error result that changes nothing but the index', () => {
    const sm = new LockStateMachine();
    const out = sm.apply(1, { type: 'expireSessions', now: -1 });
    expect(out.result).toMatchObject({ type: 'error', code: 'INVALID_ARGUMENT' });
    expect(sm.time).toBe(0);
  });
});
