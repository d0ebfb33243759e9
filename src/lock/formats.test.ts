/**
 * Keeps docs/formats/lock-commands.md and docs/formats/lock-snapshot.md honest: every worked
 * example in them is encoded here and compared byte for byte, and decoded back.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeCommand, encodeCommand, type LockCommand } from './commands.js';
import { LockStateMachine, SNAPSHOT_MAGIC } from './state-machine.js';
import { realEnv } from '../env/real/index.js';
import { fromUtf8, toHex, utf8 } from '../util/bytes.js';
import { isTesseraError } from '../util/errors.js';
import { crc32c } from '../util/crc32c.js';

/** The repository's format docs, read through a real Env rooted at docs/formats. */
const formatsDir = realEnv({ root: fileURLToPath(new URL('../../docs/formats', import.meta.url)) });
const docs = new Map<string, string>();
for (const name of ['lock-commands.md', 'lock-snapshot.md']) {
  docs.set(name, fromUtf8(await formatsDir.fs.readFile(name)));
}
const doc = (name: string): string => docs.get(name)!;

/** 1 700 000 000 000 ms: the stamp every example in lock-commands.md uses. */
const now = 1_700_000_000_000;
const empty = new Uint8Array(0);

/** [command, the hex the doc gives for it], in the doc's order. */
const commandExamples: readonly (readonly [LockCommand, string])[] = [
  [{ type: 'openSession', now, id: 7, ttlMs: 10_000 }, '010180d095ffbc3107904e'],
  [{ type: 'keepAlive', now, session: 7 }, '010280d095ffbc3107'],
  [{ type: 'closeSession', now, session: 7 }, '010380d095ffbc3107'],
  [{ type: 'expireSessions', now }, '010480d095ffbc31'],
  [{ type: 'create', now, path: '/cfg', data: empty }, '010580d095ffbc31042f6366670000'],
  [
    { type: 'set', now, path: '/cfg', data: utf8('v2'), expectedVersion: 3 },
    '010680d095ffbc31042f6366670276320103',
  ],
  [{ type: 'set', now, path: '/cfg', data: utf8('v2') }, '010680d095ffbc31042f63666702763200'],
  [{ type: 'delete', now, path: '/cfg', expectedVersion: 4 }, '010780d095ffbc31042f6366670104'],
  [{ type: 'delete', now, path: '/cfg' }, '010780d095ffbc31042f63666700'],
  [
    { type: 'acquireLock', now, path: '/db', session: 7, mode: 'exclusive' },
    '010980d095ffbc31032f64620700',
  ],
  [
    { type: 'acquireLock', now, path: '/db', session: 8, mode: 'shared' },
    '010980d095ffbc31032f64620801',
  ],
  [{ type: 'releaseLock', now, path: '/db', session: 7 }, '010a80d095ffbc31032f646207'],
  [
    {
      type: 'create',
      now,
      path: '/locks/a',
      data: utf8('hi'),
      ephemeral: true,
      sequential: true,
      session: 7,
    },
    '010580d095ffbc31082f6c6f636b732f610268690707',
  ],
  [
    {
      type: 'multi',
      now,
      ops: [
        { type: 'check', path: '/cfg', expectedVersion: 1 },
        { type: 'create', path: '/cfg/x', data: utf8('x') },
        { type: 'set', path: '/cfg', data: utf8('y') },
        { type: 'delete', path: '/cfg/x' },
      ],
    },
    '010880d095ffbc31040b042f636667010105062f6366672f7801780006042f63666701790007062f6366672f7800',
  ],
];

const SNAPSHOT_HEX =
  '544c434b0106ed070102078827f02e088827f42e000001000000000001016101780001e907e907020200010165' +
  '000000ea07ea070303070001022f6c01070001010801ec6b955a';

/** The six commands of lock-snapshot.md's worked example, applied at indexes 1 … 6. */
function exampleState(): LockStateMachine {
  const sm = new LockStateMachine();
  const cmds: LockCommand[] = [
    { type: 'openSession', now: 1000, id: 7, ttlMs: 5000 },
    { type: 'create', now: 1001, path: '/a', data: utf8('x') },
    { type: 'create', now: 1002, path: '/a/e', data: empty, ephemeral: true, session: 7 },
    { type: 'acquireLock', now: 1003, path: '/l', session: 7, mode: 'exclusive' },
    { type: 'openSession', now: 1004, id: 8, ttlMs: 5000 },
    { type: 'acquireLock', now: 1005, path: '/l', session: 8, mode: 'shared' },
  ];
  cmds.forEach((cmd, i) => {
    const { result } = sm.apply(i + 1, cmd);
    expect(result.type).not.toBe('error');
  });
  return sm;
}

function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g)!, (b) => Number.parseInt(b, 16));
}

function corruptionOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isTesseraError(e, 'CORRUPTION')) return e.message;
    throw e;
  }
  throw new Error('expected CORRUPTION');
}

describe('docs/formats/lock-commands.md', () => {
  it('every command example encodes to the documented bytes and decodes back', () => {
    for (const [cmd, hex] of commandExamples) {
      const bytes = encodeCommand(cmd);
      expect(toHex(bytes), cmd.type).toBe(hex);
      expect(toHex(encodeCommand(decodeCommand(bytes)))).toBe(hex);
    }
  });

  it('the document shows exactly these bytes', () => {
    const text = doc('lock-commands.md');
    for (const [cmd, hex] of commandExamples) expect(text, cmd.type).toContain(`\`${hex}\``);
  });

  it('covers every command tag 1 … 10 and every multi op', () => {
    const tags = new Set(commandExamples.map(([, hex]) => Number.parseInt(hex.slice(2, 4), 16)));
    expect([...tags].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('refuses what the "What the decoder enforces" table lists', () => {
    const open = '010180d095ffbc3107904e';
    expect(corruptionOf(() => decodeCommand(fromHex('02' + open.slice(2))))).toMatch(
      /unknown lock command format 2/,
    );
    expect(corruptionOf(() => decodeCommand(fromHex('010b00042f63666700')))).toMatch(
      /unknown lock command tag 11/,
    );
    expect(corruptionOf(() => decodeCommand(fromHex('01080001080000')))).toMatch(
      /bad multi op tag 8/,
    );
    expect(corruptionOf(() => decodeCommand(fromHex('010800ffff01')))).toMatch(
      /bad multi op count/,
    );
    expect(corruptionOf(() => decodeCommand(fromHex('010500012f0008')))).toMatch(
      /bad create flags 8/,
    );
    expect(corruptionOf(() => decodeCommand(fromHex('010700012f02')))).toMatch(
      /bad presence byte 2/,
    );
    expect(corruptionOf(() => decodeCommand(fromHex('010900012f0702')))).toMatch(/bad lock mode/);
    expect(corruptionOf(() => decodeCommand(fromHex('010a0001ff07')))).toMatch(/invalid UTF-8/);
    expect(corruptionOf(() => decodeCommand(fromHex('010480808080808080807f')))).toMatch(
      /varint longer than 8 bytes/,
    );
    expect(corruptionOf(() => decodeCommand(fromHex('010a00052f07')))).toMatch(/truncated/);
    expect(corruptionOf(() => decodeCommand(fromHex(open + '00')))).toMatch(/1 trailing bytes/);
  });
});

describe('docs/formats/lock-snapshot.md', () => {
  it('the worked example snapshots to the documented bytes', () => {
    const bytes = exampleState().snapshot();
    expect(bytes.length).toBe(71);
    expect(toHex(bytes)).toBe(SNAPSHOT_HEX);
    expect(new DataView(bytes.buffer).getUint32(0, true)).toBe(SNAPSHOT_MAGIC);
    expect(doc('lock-snapshot.md')).toContain(`\`${SNAPSHOT_HEX}\``);
  });

  it('restores from the documented bytes to the same state', () => {
    const sm = LockStateMachine.restore(fromHex(SNAPSHOT_HEX));
    expect(sm.lastApplied).toBe(6);
    expect(sm.time).toBe(1005);
    expect(sm.allSessions()).toEqual([
      { id: 7, ttlMs: 5000, expiresAt: 6000 },
      { id: 8, ttlMs: 5000, expiresAt: 6004 },
    ]);
    expect(sm.list('/a')).toEqual(['e']);
    expect(sm.stat('/a/e').ephemeralOwner).toBe(7);
    expect(sm.lockState('/l')).toEqual({
      path: '/l',
      holders: [{ session: 7, mode: 'exclusive', token: 1 }],
      waiters: [{ session: 8, mode: 'shared' }],
    });
    expect(toHex(sm.snapshot())).toBe(SNAPSHOT_HEX);
  });

  it('refuses a flipped byte (checksum) and an unknown format', () => {
    const bad = fromHex(SNAPSHOT_HEX);
    bad[10]! ^= 1;
    expect(corruptionOf(() => LockStateMachine.restore(bad))).toMatch(/checksum/);
    const v2 = fromHex(SNAPSHOT_HEX);
    v2[4] = 2;
    new DataView(v2.buffer).setUint32(v2.length - 4, crc32c(v2.subarray(0, v2.length - 4)), true);
    expect(corruptionOf(() => LockStateMachine.restore(v2))).toMatch(
      /unknown lock snapshot format 2/,
    );
  });
});
