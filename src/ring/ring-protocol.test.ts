import { describe, expect, it } from 'vitest';
import { Kind, type RawEntry } from '../storage/index.js';
import { isTesseraError } from '../util/errors.js';
import { Prng } from '../util/prng.js';
import { decodeTokens, encodeTokens } from './endpoint-state.js';
import { TOKEN_MAX, TOKEN_MIN } from './murmur3.js';
import { checkWireCells, entriesFromWire, entriesToWire } from './ring-protocol.js';

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
