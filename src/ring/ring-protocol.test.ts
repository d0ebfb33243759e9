import { describe, expect, it } from 'vitest';
import { Kind, type RawEntry } from '../storage/index.js';
import { isTesseraError } from '../util/errors.js';
import { Prng } from '../util/prng.js';
import { decodeTokens, encodeTokens } from './endpoint-state.js';
import { TOKEN_MAX, TOKEN_MIN } from './murmur3.js';
import {
  checkWireCells,
  entriesFromWire,
  entriesToWire,
  intervalsFromWire,
  intervalsToWire,
  INTERVALS_MAX,
  rowsFromWire,
  rowsToWire,
} from './ring-protocol.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return isTesseraError(err) ? err.code : `foreign ${String(err)}`;
  }
}

const b = (s: string) => new TextEncoder().encode(s);

describe('ring.read replies', () => {
  it('carry raw entries there and back', () => {
    const entries: RawEntry[] = [
      { family: b(''), qualifier: b(''), timestamp: 9, kind: Kind.DeleteRow, value: b('') },
      { family: b('f'), qualifier: b('q'), timestamp: 7, kind: Kind.Put, value: b('v') },
    ];
    expect(entriesFromWire(entriesToWire(entries))).toEqual(entries);
    const cells = ['f', b('q'), 7, b('v')];
    expect(checkWireCells(cells)).toBe(cells);
  });

  it('answer malformed entries and cells with PROTOCOL_ERROR, never a crash', () => {
    const good = entriesToWire([
      { family: b('f'), qualifier: b('q'), timestamp: 7, kind: Kind.Put, value: b('v') },
    ]);
    for (const bad of [
      undefined,
      'x',
      [1, 2, 3],
      [...good.slice(0, 3), 5, good[4]],
      [...good.slice(0, 3), -1, good[4]],
      [good[0], good[1], -1, good[3], good[4]],
      [good[0], good[1], 1.5, good[3], good[4]],
      ['f', ...good.slice(1)],
    ]) {
      expect(codeOf(() => entriesFromWire(bad))).toBe('PROTOCOL_ERROR');
    }
    for (const bad of [
      null,
      { cells: [] },
      ['f', b('q'), 7],
      [b('f'), b('q'), 7, b('v')],
      ['f', 'q', 7, b('v')],
      ['f', b('q'), '7', b('v')],
      ['f', b('q'), -7, b('v')],
      ['f', b('q'), 7, 'v'],
    ]) {
      expect(codeOf(() => checkWireCells(bad))).toBe('PROTOCOL_ERROR');
    }
    // Random junk: only PROTOCOL_ERROR or a valid result.
    const p = new Prng(5);
    const item = (): unknown =>
      [() => p.int(10) - 2, () => p.bytes(p.int(3)), () => 'f', () => null, () => 0.5][p.int(5)]!();
    for (let i = 0; i < 2000; i++) {
      const junk = Array.from({ length: p.int(11) }, item);
      expect(['ok', 'PROTOCOL_ERROR']).toContain(codeOf(() => entriesFromWire(junk)));
      expect(['ok', 'PROTOCOL_ERROR']).toContain(codeOf(() => checkWireCells(junk)));
    }
  });
});

describe('gossiped tokens', () => {
  it('round-trip, and bad ones are INVALID_ARGUMENT', () => {
    const tokens = [TOKEN_MIN, -1n, 0n, 42n, TOKEN_MAX];
    expect(decodeTokens(encodeTokens(tokens))).toEqual(tokens);
    expect(decodeTokens('')).toEqual([]);
    for (const bad of ['1,,2', 'x', '1.5', '9223372036854775808', '-9223372036854775809', ' 1']) {
      expect(codeOf(() => decodeTokens(bad))).toBe('INVALID_ARGUMENT');
    }
    expect(codeOf(() => decodeTokens(Array.from({ length: 1025 }, () => '1').join(',')))).toBe(
      'INVALID_ARGUMENT',
    );
  });
});

describe('streamed rows and token intervals', () => {
  it('round-trip', () => {
    const rows = [
      {
        row: b('r1'),
        entries: [
          { family: b('f'), qualifier: b('q'), timestamp: 7, kind: Kind.Put, value: b('v') },
        ],
      },
      { row: b('r2'), entries: [] },
    ];
    expect(rowsFromWire(rowsToWire(rows), 'rows', true)).toEqual(rows);
    const iv = [
      { lo: TOKEN_MIN, hi: -1n },
      { lo: 5n, hi: TOKEN_MAX },
    ];
    expect(intervalsFromWire(intervalsToWire(iv), 'intervals')).toEqual(iv);
  });

  it('in a request are INVALID_ARGUMENT when malformed, in a reply PROTOCOL_ERROR', () => {
    for (const bad of [
      null,
      'x',
      [['1']],
      [['2', '1']],
      [['1', 'x']],
      [['1', '9223372036854775808']],
      [[1, 2]],
      Array.from({ length: INTERVALS_MAX + 1 }, () => ['1', '2']),
    ]) {
      expect(codeOf(() => intervalsFromWire(bad, 'intervals'))).toBe('INVALID_ARGUMENT');
    }
    for (const bad of [null, [b('r')], ['r', []], [b('r'), [1, 2]]]) {
      expect(codeOf(() => rowsFromWire(bad, 'rows', true))).toBe('INVALID_ARGUMENT');
      expect(codeOf(() => rowsFromWire(bad, 'ring.rows', false))).toBe('PROTOCOL_ERROR');
    }
    const p = new Prng(5);
    const item = (): unknown =>
      [() => p.bytes(p.int(4)), () => p.int(9) - 2, () => String(p.int(50)), () => []][p.int(4)]!();
    for (let i = 0; i < 2000; i++) {
      const junk = Array.from({ length: p.int(7) }, () =>
        p.chance(0.3) ? [item(), item()] : item(),
      );
      expect(['ok', 'INVALID_ARGUMENT']).toContain(codeOf(() => intervalsFromWire(junk, 'i')));
      expect(['ok', 'INVALID_ARGUMENT']).toContain(codeOf(() => rowsFromWire(junk, 'rows', true)));
    }
  });
});
