import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter, utf8ByteLength, varintMaxBytes } from './byte-io.js';
import { isTesseraError } from './errors.js';

const read = (...bytes: number[]) => new ByteReader(new Uint8Array(bytes)).varint();

function corruptionOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isTesseraError(err) && err.code === 'CORRUPTION') return err.message;
    throw err;
  }
  throw new Error('expected CORRUPTION');
}

describe('varints', () => {
  it('round-trip the edges of every length, up to 2^53 - 1', () => {
    const values = [0, 1, 127, 128, 16_383, 16_384, 2 ** 21, 2 ** 35 - 1, 2 ** 49, 2 ** 53 - 1];
    for (const v of values) {
      const bytes = new ByteWriter().varint(v).finish();
      expect(bytes.length).toBeLessThanOrEqual(varintMaxBytes);
      const r = new ByteReader(bytes);
      expect(r.varint()).toBe(v);
      expect(r.pos).toBe(bytes.length);
    }
  });

  it('refuse an overlong encoding, so each value has one encoding', () => {
    expect(read(0x00)).toBe(0);
    expect(corruptionOf(() => read(0x80, 0x00))).toMatch(/overlong varint at offset 0/);
    expect(corruptionOf(() => read(0x81, 0x80, 0x00))).toMatch(/overlong/);
  });

  it('refuse a value beyond the safe integers (8 bytes hold 56 bits)', () => {
    // 2^53 exactly: seven 0x80 groups then 0x10 in the eighth (bits 49..55).
    const bytes = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10];
    expect(corruptionOf(() => read(...bytes))).toMatch(/exceeds 2\^53 - 1/);
    expect(read(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f)).toBe(2 ** 53 - 1);
  });

  it('refuse a truncated or too long varint', () => {
    expect(corruptionOf(() => read(0x80))).toMatch(/truncated/);
    expect(corruptionOf(() => read(...new Array<number>(varintMaxBytes).fill(0xff)))).toMatch(
      /longer than/,
    );
  });
});

describe('ByteWriter', () => {
  it('take() hands over the bytes without a copy and starts the writer afresh', () => {
    const w = new ByteWriter(16);
    w.u8(1)
      .u32(0xdeadbeef)
      .varint(300)
      .bytes(new Uint8Array([7, 8]));
    const taken = w.take();
    expect([...taken]).toEqual([1, 0xef, 0xbe, 0xad, 0xde, 0xac, 0x02, 7, 8]);
    expect(w.length).toBe(0);
    // Writing again grows a new buffer: the taken bytes are not touched.
    w.u32(0x01020304).u64(2 ** 40 + 5);
    expect([...w.peek()]).toEqual([4, 3, 2, 1, 5, 0, 0, 0, 0, 1, 0, 0]);
    expect([...taken]).toEqual([1, 0xef, 0xbe, 0xad, 0xde, 0xac, 0x02, 7, 8]);
  });

  it('patches fixed-width fields after growing past its first buffer', () => {
    const w = new ByteWriter(16);
    w.u32(0);
    w.bytes(new Uint8Array(100).fill(9));
    w.patchU32(0, 0x0a0b0c0d);
    const out = w.finish();
    expect([...out.subarray(0, 4)]).toEqual([0x0d, 0x0c, 0x0b, 0x0a]);
    expect(out.length).toBe(104);
  });
});

describe('UTF-8 strings', () => {
  const samples = [
    '',
    'k123',
    '/bench/k999999',
    'héllo',
    '日本語',
    'emoji 😀',
    '\u{10FFFF}',
    'x'.repeat(300),
    `${'y'.repeat(255)}é`,
    'lone \ud800 surrogate',
  ];

  it('round-trip through ByteWriter.utf8 and ByteReader.utf8, byte for byte as TextEncoder', () => {
    for (const s of samples) {
      const w = new ByteWriter(4);
      w.utf8(s);
      const expected = new ByteWriter(4).lengthPrefixed(new TextEncoder().encode(s)).finish();
      expect([...w.peek()]).toEqual([...expected]);
      // A lone surrogate encodes as U+FFFD, as TextEncoder does.
      expect(new ByteReader(w.finish()).utf8()).toBe(
        new TextDecoder().decode(new TextEncoder().encode(s)),
      );
      expect(utf8ByteLength(s)).toBe(new TextEncoder().encode(s).length);
    }
  });

  it('refuses invalid UTF-8 with CORRUPTION', () => {
    for (const bad of [[0xff], [0xc3], [0xe6, 0x97], [0xed, 0xa0, 0x80]]) {
      const bytes = new ByteWriter(8).lengthPrefixed(new Uint8Array(bad)).finish();
      expect(corruptionOf(() => new ByteReader(bytes).utf8())).toMatch(/invalid UTF-8/);
    }
  });
});
