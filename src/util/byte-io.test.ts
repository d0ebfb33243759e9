import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter, varintMaxBytes } from './byte-io.js';
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
