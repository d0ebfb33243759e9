import { describe, expect, it } from 'vitest';
import { fnv1a, fnv1aOffset, fnv1aStep } from './fnv.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('fnv1a', () => {
  it('gives the published FNV-1a 32-bit values', () => {
    expect(fnv1a(bytes('')) >>> 0).toBe(0x811c9dc5);
    expect(fnv1a(bytes('a')) >>> 0).toBe(0xe40c292c);
    expect(fnv1a(bytes('foobar')) >>> 0).toBe(0xbf9cf968);
  });

  it('hashes a range, and step by step the same', () => {
    const b = bytes('xxfoobaryy');
    expect(fnv1a(b, 2, 8)).toBe(fnv1a(bytes('foobar')));
    let h = fnv1aOffset;
    for (const c of bytes('foobar')) h = fnv1aStep(h, c);
    expect(h | 0).toBe(fnv1a(bytes('foobar')));
  });
});
