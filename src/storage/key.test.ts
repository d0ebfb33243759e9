import { describe, expect, it } from 'vitest';
import { compareBytes, toHex } from '../util/bytes.js';
import { Prng } from '../util/prng.js';
import {
  encodeInternalKey,
  familyStartKey,
  Kind,
  kindOf,
  parseInternalKey,
  rowPrefix,
  rowStartKey,
  seqOf,
  timestampOf,
  type ParsedKey,
} from './key.js';

function randomBytes(p: Prng, maxLen: number): Uint8Array {
  const n = p.int(maxLen + 1);
  const out = new Uint8Array(n);
  // Small alphabet with zeros and 0xff so escaping and prefixes are exercised.
  const alphabet = [0, 1, 0x61, 0x62, 0xfe, 0xff];
  for (let i = 0; i < n; i++) out[i] = alphabet[p.int(alphabet.length)]!;
  return out;
}

function randomKey(p: Prng): ParsedKey {
  const kinds = [Kind.DeleteFamily, Kind.DeleteColumn, Kind.DeleteVersion, Kind.Put] as const;
  return {
    row: randomBytes(p, 3).length ? randomBytes(p, 3) : new Uint8Array([1]),
    family: new Uint8Array([0x61 + p.int(3)]),
    qualifier: randomBytes(p, 3),
    timestamp: p.chance(0.2) ? Number.MAX_SAFE_INTEGER - p.int(3) : p.int(5),
    kind: kinds[p.int(kinds.length)]!,
    seq: p.int(4) + 1,
  };
}

/** The data model's order, written out directly: what the byte order must agree with. */
function modelCompare(a: ParsedKey, b: ParsedKey): number {
  return (
    compareBytes(a.row, b.row) ||
    compareBytes(a.family, b.family) ||
    compareBytes(a.qualifier, b.qualifier) ||
    Math.sign(b.timestamp - a.timestamp) ||
    Math.sign(a.kind - b.kind) ||
    Math.sign(b.seq - a.seq)
  );
}

describe('internal keys', () => {
  it('byte order equals the data-model order (row, family, qualifier, ts desc, kind, seq desc)', () => {
    const p = new Prng(11);
    for (let i = 0; i < 20_000; i++) {
      const a = randomKey(p);
      const b = randomKey(p);
      const ka = encodeInternalKey(a, a.seq);
      const kb = encodeInternalKey(b, b.seq);
      expect(Math.sign(compareBytes(ka, kb))).toBe(modelCompare(a, b));
    }
  });

  it('parses back what it encoded, including zero bytes', () => {
    const p = new Prng(12);
    for (let i = 0; i < 5_000; i++) {
      const k = randomKey(p);
      const enc = encodeInternalKey(k, k.seq);
      const back = parseInternalKey(enc);
      expect(back).toEqual(k);
      expect(seqOf(enc)).toBe(k.seq);
      expect(kindOf(enc)).toBe(k.kind);
      expect(timestampOf(enc)).toBe(k.timestamp);
      expect(toHex(rowPrefix(enc))).toBe(toHex(rowStartKey(k.row)));
    }
  });

  it('a row start key sorts before every key of the row and after every key of smaller rows', () => {
    const row = new Uint8Array([0x61]);
    const start = rowStartKey(row);
    const rowTombstone = encodeInternalKey(
      { row, family: new Uint8Array(0), qualifier: new Uint8Array(0), timestamp: 9, kind: 0 },
      5,
    );
    const smaller = encodeInternalKey(
      {
        row: new Uint8Array([0x60, 0xff]),
        family: utf8('f'),
        qualifier: utf8('q'),
        timestamp: 0,
        kind: Kind.Put,
      },
      1,
    );
    expect(compareBytes(start, rowTombstone)).toBeLessThan(0);
    expect(compareBytes(smaller, start)).toBeLessThan(0);
    expect(compareBytes(familyStartKey(row, utf8('f')), start)).toBeGreaterThan(0);
  });

  it('rejects malformed keys with CORRUPTION', () => {
    for (const bad of [new Uint8Array([0x61]), new Uint8Array([0x61, 0, 1, 0x62, 0, 1])]) {
      expect(() => parseInternalKey(bad)).toThrow(expect.objectContaining({ code: 'CORRUPTION' }));
    }
  });
});

function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
