import { describe, expect, it } from 'vitest';
import { decodeCommand, encodeCommand, type LockCommand } from './commands.js';
import { randomCommand, randomCommands } from './testdata/random-commands.js';
import { Prng } from '../util/prng.js';
import { isTesseraError } from '../util/errors.js';

/** The decoder always yields explicit booleans for create's flags. */
function normalize(cmd: LockCommand): unknown {
  const fix = (o: object): object =>
    'type' in o && o.type === 'create' ? { ephemeral: false, sequential: false, ...o } : o;
  if (cmd.type === 'multi') return { ...cmd, ops: cmd.ops.map(fix) };
  return fix(cmd);
}

describe('lock command codec', () => {
  it('round-trips every command type', () => {
    const data = new Uint8Array([1, 2, 3]);
    const cmds: LockCommand[] = [
      { type: 'openSession', now: 5, id: 7, ttlMs: 10_000 },
      { type: 'keepAlive', now: 2 ** 52, session: 7 },
      { type: 'closeSession', now: 0, session: 1 },
      { type: 'expireSessions', now: 99 },
      { type: 'create', now: 1, path: '/a', data, ephemeral: true, sequential: true, session: 3 },
      { type: 'create', now: 1, path: '/ü', data: new Uint8Array(0) },
      { type: 'set', now: 1, path: '/a', data, expectedVersion: 0 },
      { type: 'set', now: 1, path: '/a', data },
      { type: 'delete', now: 1, path: '/a', expectedVersion: 4 },
      { type: 'delete', now: 1, path: '/a' },
      {
        type: 'multi',
        now: 3,
        ops: [
          { type: 'check', path: '/a', expectedVersion: 1 },
          { type: 'create', path: '/a/b', data },
          { type: 'set', path: '/a', data },
          { type: 'delete', path: '/a/c' },
        ],
      },
      { type: 'multi', now: 3, ops: [] },
      { type: 'acquireLock', now: 4, path: '/l', session: 2, mode: 'shared' },
      { type: 'acquireLock', now: 4, path: '/l', session: 2, mode: 'exclusive' },
      { type: 'releaseLock', now: 4, path: '/l', session: 2 },
    ];
    for (const cmd of cmds) {
      const bytes = encodeCommand(cmd);
      expect(decodeCommand(bytes), cmd.type).toEqual(normalize(cmd));
      expect(encodeCommand(decodeCommand(bytes))).toEqual(bytes);
    }
  });

  it('round-trips random commands', () => {
    const rng = new Prng(42);
    for (const cmd of randomCommands(rng, 2000)) {
      expect(decodeCommand(encodeCommand(cmd))).toEqual(normalize(cmd));
    }
  });

  it('decoded data does not alias the log entry, also when the entry is a Node Buffer', () => {
    const bytes = encodeCommand({ type: 'set', now: 1, path: '/a', data: new Uint8Array([9]) });
    const cmd = decodeCommand(bytes);
    bytes.fill(0);
    expect(cmd.type === 'set' && cmd.data[0]).toBe(9);
    // Followers decode entries that view a received Buffer, whose slice() is a view too.
    const received = Buffer.from(
      encodeCommand({ type: 'set', now: 1, path: '/a', data: new Uint8Array([7]) }),
    );
    const fromBuffer = decodeCommand(received);
    received.fill(0);
    expect(fromBuffer.type === 'set' && fromBuffer.data[0]).toBe(7);
  });

  it('fuzz: garbage and mutated encodings decode or raise CORRUPTION, nothing else', () => {
    const rng = new Prng(7);
    let rejected = 0;
    const attempt = (b: Uint8Array): void => {
      try {
        const cmd = decodeCommand(b);
        // Whatever decodes must encode again and decode to the same command.
        expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
      } catch (e) {
        if (!isTesseraError(e, 'CORRUPTION')) throw e;
        rejected++;
      }
    };
    for (let i = 0; i < 3000; i++) attempt(rng.bytes(rng.int(40)));
    for (let i = 0; i < 6000; i++) {
      const good = encodeCommand(randomCommand(rng, rng.int(1e9)));
      const b = good.slice();
      const kind = rng.int(3);
      if (kind === 0)
        for (let j = rng.between(1, 3); j > 0; j--) b[rng.int(b.length)] = rng.int(256);
      if (kind === 1) attempt(b.subarray(0, rng.int(b.length)));
      else if (kind === 2) attempt(new Uint8Array([...b, rng.int(256)]));
      else attempt(b);
    }
    expect(rejected).toBeGreaterThan(3000);
    for (const b of [new Uint8Array(0), new Uint8Array([1]), new Uint8Array([2, 1, 0])]) {
      expect(() => decodeCommand(b)).toThrow(/./);
    }
  });
});
