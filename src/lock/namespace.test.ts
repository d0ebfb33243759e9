import { describe, expect, it } from 'vitest';
import { LockStateMachine, type ApplyOutput } from './state-machine.js';
import type { LockCommand, LockResult } from './commands.js';
import { MAX_DATA_BYTES } from './namespace.js';
import { isTesseraError } from '../util/errors.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A command without its stamp (the harness adds it). */
type Unstamped = LockCommand extends infer C
  ? C extends LockCommand
    ? Omit<C, 'now'> & { now?: number }
    : never
  : never;

class Harness {
  readonly sm = new LockStateMachine();
  private index = 0;
  now = 1000;
  run(cmd: Unstamped): ApplyOutput {
    return this.sm.apply(++this.index, { now: this.now, ...cmd } as LockCommand);
  }
  ok(cmd: Unstamped): LockResult {
    const out = this.run(cmd);
    if (out.result.type === 'error') throw new Error(`${out.result.code}: ${out.result.message}`);
    return out.result;
  }
  err(cmd: Unstamped): string {
    const out = this.run(cmd);
    expect(out.events).toEqual([]);
    return out.result.type === 'error' ? out.result.code : `no error: ${out.result.type}`;
  }
}

function readCode(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    return isTesseraError(e) ? e.code : 'other';
  }
}

describe('namespace', () => {
  it('create, get, set, delete and list with versions and times', () => {
    const h = new Harness();
    h.now = 5000;
    expect(h.ok({ type: 'create', path: '/a', data: enc('one') })).toMatchObject({
      type: 'created',
      path: '/a',
      stat: { version: 0, ctime: 5000, mtime: 5000, createdIndex: 1, dataLength: 3 },
    });
    h.ok({ type: 'create', path: '/a/y', data: enc('') });
    h.ok({ type: 'create', path: '/a/x', data: enc('') });
    expect(h.sm.list('/a')).toEqual(['x', 'y']);
    expect(h.sm.list('/')).toEqual(['a']);
    expect(h.sm.stat('/a')).toMatchObject({ cversion: 2, numChildren: 2 });
    h.now = 6000;
    expect(h.ok({ type: 'set', path: '/a', data: enc('two') })).toMatchObject({
      stat: { version: 1, ctime: 5000, mtime: 6000, modifiedIndex: 4 },
    });
    const got = h.sm.get('/a');
    expect(new TextDecoder().decode(got.data)).toBe('two');
    got.data[0] = 0; // a copy: the state is untouched
    expect(new TextDecoder().decode(h.sm.get('/a').data)).toBe('two');
    expect(h.err({ type: 'create', path: '/a', data: enc('') })).toBe('ALREADY_EXISTS');
    expect(h.err({ type: 'create', path: '/q/r', data: enc('') })).toBe('NOT_FOUND');
    expect(h.err({ type: 'set', path: '/nope', data: enc('') })).toBe('NOT_FOUND');
    expect(h.err({ type: 'delete', path: '/a' })).toBe('NOT_EMPTY');
    expect(h.err({ type: 'delete', path: '/' })).toBe('INVALID_ARGUMENT');
    expect(h.err({ type: 'create', path: 'rel', data: enc('') })).toBe('INVALID_PATH');
    h.ok({ type: 'delete', path: '/a/x' });
    h.ok({ type: 'delete', path: '/a/y' });
    h.ok({ type: 'delete', path: '/a' });
    expect(h.sm.exists('/a')).toBeUndefined();
    expect(h.sm.list('/')).toEqual([]);
    expect(readCode(() => h.sm.get('/a'))).toBe('NOT_FOUND');
    expect(readCode(() => h.sm.list('bad'))).toBe('INVALID_PATH');
  });

  it('compare-and-set by version', () => {
    const h = new Harness();
    h.ok({ type: 'create', path: '/c', data: enc('0') });
    h.ok({ type: 'set', path: '/c', data: enc('1'), expectedVersion: 0 });
    expect(h.err({ type: 'set', path: '/c', data: enc('x'), expectedVersion: 0 })).toBe(
      'BAD_VERSION',
    );
    expect(new TextDecoder().decode(h.sm.get('/c').data)).toBe('1');
    expect(h.err({ type: 'delete', path: '/c', expectedVersion: 0 })).toBe('BAD_VERSION');
    h.ok({ type: 'delete', path: '/c', expectedVersion: 1 });
  });

  it('refuses data over 1 MiB and keeps no reference to the caller’s buffer', () => {
    const h = new Harness();
    const big = new Uint8Array(MAX_DATA_BYTES + 1);
    expect(h.err({ type: 'create', path: '/big', data: big })).toBe('INVALID_ARGUMENT');
    h.ok({ type: 'create', path: '/max', data: big.subarray(1) });
    const mine = enc('abc');
    h.ok({ type: 'create', path: '/m', data: mine });
    mine[0] = 0x7a;
    expect(new TextDecoder().decode(h.sm.get('/m').data)).toBe('abc');
  });

  it('names sequential nodes from the parent cversion, zero-padded to 10 digits', () => {
    const h = new Harness();
    h.ok({ type: 'create', path: '/q', data: enc('') });
    const names: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = h.ok({ type: 'create', path: '/q/job-', data: enc(''), sequential: true });
      names.push(r.type === 'created' ? r.path : '');
    }
    expect(names).toEqual(['/q/job-0000000000', '/q/job-0000000001', '/q/job-0000000002']);
    h.ok({ type: 'delete', path: '/q/job-0000000002' });
    // Deletes also bump cversion, so numbers are never reused.
    const r = h.ok({ type: 'create', path: '/q/job-', data: enc(''), sequential: true });
    expect(r.type === 'created' && r.path).toBe('/q/job-0000000004');
  });

  it('reports the watch events a command caused, in order', () => {
    const h = new Harness();
    expect(h.run({ type: 'create', path: '/w', data: enc('') }).events).toEqual([
      { path: '/w', type: 'created' },
      { path: '/', type: 'childrenChanged' },
    ]);
    expect(h.run({ type: 'set', path: '/w', data: enc('1') }).events).toEqual([
      { path: '/w', type: 'dataChanged' },
    ]);
    expect(h.run({ type: 'delete', path: '/w' }).events).toEqual([
      { path: '/w', type: 'deleted' },
      { path: '/', type: 'childrenChanged' },
    ]);
  });

  it('multi is all or nothing', () => {
    const h = new Harness();
    h.ok({ type: 'create', path: '/m', data: enc('v0') });
    const before = h.sm.snapshot();
    const out = h.run({
      type: 'multi',
      ops: [
        { type: 'create', path: '/m/a', data: enc('') },
        { type: 'create', path: '/m/s-', data: enc(''), sequential: true },
        { type: 'set', path: '/m', data: enc('v1') },
        { type: 'delete', path: '/m/a' },
        { type: 'check', path: '/m', expectedVersion: 0 }, // fails: /m is at version 1 now
      ],
    });
    expect(out.result).toMatchObject({ type: 'error', code: 'BAD_VERSION', opIndex: 4 });
    expect(out.events).toEqual([]);
    // Nothing changed but the applied index.
    const after = LockStateMachine.restore(h.sm.snapshot());
    const was = LockStateMachine.restore(before);
    expect(after.list('/m')).toEqual([]);
    expect(after.stat('/m')).toEqual(was.stat('/m'));
    expect(after.stat('/')).toEqual(was.stat('/'));

    const ok = h.run({
      type: 'multi',
      ops: [
        { type: 'check', path: '/m', expectedVersion: 0 },
        { type: 'create', path: '/m/a', data: enc('') },
        { type: 'set', path: '/m', data: enc('v1'), expectedVersion: 0 },
      ],
    });
    expect(ok.result.type).toBe('multi');
    expect(ok.events.map((e) => e.type)).toEqual(['created', 'childrenChanged', 'dataChanged']);
    expect(h.sm.stat('/m')).toMatchObject({ version: 1, numChildren: 1, cversion: 1 });
  });
});
