import { describe, expect, it } from 'vitest';
import { bytesToLatin1, copyBytes, latin1ToBytes, utf8 } from './bytes.js';

describe('bytes', () => {
  it('utf8 encodes as TextEncoder does, on and off its ASCII fast path', () => {
    const encoder = new TextEncoder();
    const strings = [
      '',
      'a',
      'user6284781860667377211',
      'x'.repeat(64),
      'x'.repeat(65),
      'é',
      `${'a'.repeat(30)}€`,
      '\u{1f600}',
      '\ud800', // a lone surrogate: U+FFFD
      '\x7f\x80',
      'é'.repeat(70),
    ];
    for (const s of strings) {
      const out = utf8(s);
      expect(out).toBeInstanceOf(Uint8Array);
      expect([...out]).toEqual([...encoder.encode(s)]);
    }
  });

  it('copyBytes copies, also from a Node Buffer (whose slice would be a view)', () => {
    const buf = Buffer.from([1, 2, 3]);
    const copy = copyBytes(buf.subarray(1));
    buf.fill(0);
    expect([...copy]).toEqual([2, 3]);
  });

  it('bytesToLatin1 and latin1ToBytes round-trip every byte value, one char per byte', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const s = bytesToLatin1(all);
    expect(s.length).toBe(256);
    for (let i = 0; i < 256; i++) expect(s.charCodeAt(i)).toBe(i);
    expect([...latin1ToBytes(s)]).toEqual([...all]);
    expect(bytesToLatin1(new Uint8Array(0))).toBe('');
    expect(latin1ToBytes('')).toEqual(new Uint8Array(0));
    // A view's own bytes only, and a fresh array each time.
    const view = all.subarray(10, 14);
    expect([...latin1ToBytes(bytesToLatin1(view))]).toEqual([10, 11, 12, 13]);
    const big = new Uint8Array(1 << 20).map((_, i) => (i * 7) & 0xff);
    const back = latin1ToBytes(bytesToLatin1(big));
    expect(Buffer.compare(back, big)).toBe(0);
    expect(back.buffer).not.toBe(big.buffer);
  });
});
