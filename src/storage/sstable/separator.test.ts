import { describe, expect, it } from 'vitest';
import { compareBytes, utf8 } from '../../util/bytes.js';
import { Prng } from '../../util/prng.js';
import { shortestSeparator, shortSuccessor } from './separator.js';

describe('separators', () => {
  it('shortens where a byte can be bumped', () => {
    expect(shortestSeparator(utf8('abc1xyz'), utf8('abc5'))).toEqual(utf8('abc2'));
    expect(shortestSeparator(utf8('abc1xyz'), utf8('abc2'))).toEqual(utf8('abc1xyz'));
    expect(shortestSeparator(utf8('abc'), utf8('abcd'))).toEqual(utf8('abc'));
    expect(shortestSeparator(Uint8Array.of(1, 0xff, 3), Uint8Array.of(2))).toEqual(
      Uint8Array.of(1, 0xff, 3),
    );
    expect(shortSuccessor(utf8('abc'))).toEqual(utf8('b'));
    expect(shortSuccessor(Uint8Array.of(0xff, 0xff, 5))).toEqual(Uint8Array.of(0xff, 0xff, 6));
    expect(shortSuccessor(Uint8Array.of(0xff, 0xff))).toEqual(Uint8Array.of(0xff, 0xff));
    expect(shortSuccessor(new Uint8Array(0))).toEqual(new Uint8Array(0));
  });

  it('always lies in [a, b) and never aliases its input', () => {
    const prng = new Prng(3);
    const alphabet = [0, 1, 0x7f, 0xfe, 0xff];
    const key = () =>
      Uint8Array.from({ length: prng.between(0, 5) }, () => alphabet[prng.int(alphabet.length)]!);
    for (let i = 0; i < 20_000; i++) {
      let a = key();
      let b = key();
      const c = compareBytes(a, b);
      if (c === 0) continue;
      if (c > 0) [a, b] = [b, a];
      const s = shortestSeparator(a, b);
      expect(compareBytes(a, s)).toBeLessThanOrEqual(0);
      expect(compareBytes(s, b)).toBeLessThan(0);
      expect(s.length).toBeLessThanOrEqual(a.length || 1);
      expect(compareBytes(shortSuccessor(a), a)).toBeGreaterThanOrEqual(0);
      s.fill(9);
      expect(compareBytes(a, b)).toBeLessThan(0);
    }
  });
});
