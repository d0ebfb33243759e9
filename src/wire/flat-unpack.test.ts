import { Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { Prng } from '../util/prng.js';
import { msgpackBoundaryNumbers, randomAscii } from './testdata/msgpack-numbers.js';
import { decodeValue, encodeValue } from './codec.js';
import { NOT_TAKEN, flatBodyBytesMax, flatUnpack } from './flat-unpack.js';

/** msgpackr with codec.ts's options: what the fast path must agree with. */
const reference = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  copyBuffers: true,
  int64AsType: 'bigint',
});

function referenceDecode(buf: Uint8Array): { value: unknown } | { error: unknown } {
  try {
    return { value: reference.unpack(buf, { start: 0, end: buf.length }) };
  } catch (error) {
    return { error };
  }
}

/** The value with byte arrays as tagged plain arrays of their class and bytes, for toEqual. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return { bytes: Array.from(v), buffer: Buffer.isBuffer(v) };
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x);
    return { object: out, proto: Object.getPrototypeOf(v) === Object.prototype };
  }
  return v;
}

/** A random value of the kinds requests and replies carry, and some the fast path refuses. */
function randomValue(p: Prng, depth: number): unknown {
  const kind = depth >= 10 ? p.int(6) : p.int(9);
  switch (kind) {
    case 0:
      return p.chance(0.5) ? p.pick(msgpackBoundaryNumbers) : p.int(2 ** 32) - 2 ** 31;
    case 1:
      return p.chance(0.9) ? randomAscii(p, p.chance(0.9) ? 30 : 300) : p.pick(['é', '\u{1f600}x']);
    case 2: {
      const b = p.bytes(p.chance(0.8) ? p.int(150) : p.pick([0, 64, 65, 0xff, 0x100, 0x1_0000]));
      return p.chance(0.3) ? Buffer.from(b) : b;
    }
    case 3:
      return p.pick([null, true, false, undefined]);
    case 4:
      return p.chance(0.5) ? BigInt(p.int(1000)) - 500n : new Date(p.int(2 ** 31) * 1000);
    case 5:
      return p.pick(['table', 'usertable', 'row', 'f', 'put', 'cells']);
    case 6:
    case 7: {
      const n = p.chance(0.9) ? p.int(6) : p.pick([15, 16, 40]);
      return Array.from({ length: n }, () => randomValue(p, depth + 1));
    }
    default: {
      const out: Record<string, unknown> = {};
      const n = p.chance(0.9) ? p.int(5) : p.pick([15, 16, 20]);
      for (let i = 0; i < n; i++) {
        const key = p.chance(0.05) ? p.pick(['__proto__', 'é', '1', '']) : randomAscii(p, 12);
        // defineProperty: assigning `__proto__` would set the prototype instead.
        Object.defineProperty(out, key, {
          value: randomValue(p, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
  }
}

/** The fast path on `buf` agrees with msgpackr: the same value, or it declined. */
function expectAgrees(buf: Uint8Array): boolean {
  const fast = flatUnpack(buf, 0, buf.length);
  if (fast === NOT_TAKEN) return false;
  const ref = referenceDecode(buf);
  expect(ref).toHaveProperty('value');
  expect(plain(fast)).toEqual(plain((ref as { value: unknown }).value));
  return true;
}

describe('flatUnpack', () => {
  it('decodes requests and replies as msgpackr does', () => {
    const get = encodeValue({ table: 'usertable', row: Buffer.from('user123') });
    expect(expectAgrees(get)).toBe(true);
    const put = encodeValue({
      table: 'usertable',
      mutation: {
        row: new Uint8Array([1, 2, 3]),
        ops: [
          { type: 'put', family: 'f', qualifier: new Uint8Array(6), value: new Uint8Array(100) },
        ],
      },
    });
    expect(expectAgrees(put)).toBe(true);
    const cells: unknown[] = [];
    for (let i = 0; i < 10; i++)
      cells.push('f', new Uint8Array([i]), 1_764_000_000_000_000 + i, new Uint8Array(100).fill(i));
    expect(expectAgrees(encodeValue({ cells }))).toBe(true);
  });

  it('agrees with msgpackr on random values, or leaves them to it', () => {
    const p = new Prng(7);
    let taken = 0;
    for (let i = 0; i < 3000; i++) {
      const encoded = encodeValue(randomValue(p, 0));
      // Frames hand the decoder plain views; clients may pass Buffers.
      const buf = p.chance(0.5) ? encoded : Buffer.from(encoded);
      if (expectAgrees(buf)) taken++;
    }
    // Most random values hold something it leaves to msgpackr; plenty are still taken.
    expect(taken).toBeGreaterThan(500);
  });

  it('never throws on damaged bodies, and what it takes msgpackr decodes the same', () => {
    const p = new Prng(11);
    for (let i = 0; i < 5000; i++) {
      const body = new Uint8Array(encodeValue(randomValue(p, 0)));
      switch (p.int(4)) {
        case 0: // a byte changed
          if (body.length > 0) body[p.int(body.length)] = p.int(256);
          break;
        case 1: // truncated
          expectAgrees(body.subarray(0, p.int(body.length)));
          continue;
        case 2: // trailing bytes
          expectAgrees(new Uint8Array([...body, p.int(256)]));
          continue;
        default: // noise
          expectAgrees(p.bytes(1 + p.int(40)));
          continue;
      }
      expectAgrees(body);
    }
  });

  it('leaves to msgpackr what it does not take, and decodeValue still answers', () => {
    for (const v of [
      { __proto__x: 1, ['__proto__']: 2 },
      { k: 10n },
      { s: 'é' },
      { d: new Date(0) },
      [[[[[[[[[[1]]]]]]]]]],
    ]) {
      const buf = encodeValue(v);
      if (flatUnpack(buf, 0, buf.length) !== NOT_TAKEN) expectAgrees(buf);
      expect(plain(decodeValue(buf, 0, buf.length))).toEqual(
        plain((referenceDecode(buf) as { value: unknown }).value),
      );
    }
    const proto = encodeValue(JSON.parse('{"__proto__": 1}'));
    expect(flatUnpack(proto, 0, proto.length)).toBe(NOT_TAKEN);
    expect(Object.getPrototypeOf(decodeValue(proto, 0, proto.length))).toBe(Object.prototype);
    const big = encodeValue({ v: new Uint8Array(flatBodyBytesMax) });
    expect(flatUnpack(big, 0, big.length)).toBe(NOT_TAKEN);
    expect(flatUnpack(new Uint8Array(0), 0, 0)).toBe(NOT_TAKEN);
  });

  it('copies byte arrays out of the source, in the source kind, small and large', () => {
    for (const source of ['plain', 'buffer'] as const) {
      const encoded = encodeValue({
        a: new Uint8Array(10).fill(1),
        b: new Uint8Array(500).fill(2),
      });
      const buf = source === 'buffer' ? Buffer.from(encoded) : new Uint8Array(encoded);
      const v = flatUnpack(buf, 0, buf.length) as { a: Uint8Array; b: Uint8Array };
      buf.fill(0);
      expect(v.a).toEqual(source === 'buffer' ? Buffer.alloc(10, 1) : new Uint8Array(10).fill(1));
      expect(v.b).toEqual(source === 'buffer' ? Buffer.alloc(500, 2) : new Uint8Array(500).fill(2));
      expect(Buffer.isBuffer(v.a)).toBe(source === 'buffer');
      expect(Buffer.isBuffer(v.b)).toBe(source === 'buffer');
    }
  });

  it('decodes a body inside a larger buffer, by its bounds', () => {
    const body = encodeValue({ table: 't', row: new Uint8Array([9, 9]) });
    const buf = new Uint8Array(body.length + 6).fill(0xc1);
    buf.set(body, 3);
    expect(plain(flatUnpack(buf, 3, 3 + body.length))).toEqual(
      plain({ table: 't', row: new Uint8Array([9, 9]) }),
    );
  });
});
