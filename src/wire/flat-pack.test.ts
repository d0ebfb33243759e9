import { describe, expect, it } from 'vitest';
import { Prng } from '../util/prng.js';
import { msgpackBoundaryNumbers, randomAscii } from './testdata/msgpack-numbers.js';
import { decodeValue, encodeValue } from './codec.js';
import { FrameEncoder } from './encoder.js';
import { FrameKind, HEADER_BYTES, REQUEST_HEAD_BYTES, writeHeader } from './format.js';
import { packedSize, writePacked } from './flat-pack.js';

/** `value` as the fast path writes it, in an array of its own; undefined when it is not taken. */
function packFlatMap(value: unknown): Uint8Array | undefined {
  const size = packedSize(value, 1 << 30);
  if (size < 0) return undefined;
  const out = new Uint8Array(size);
  expect(writePacked(value, out, new DataView(out.buffer), 0)).toBe(size);
  return out;
}

const byteLengths = [0, 1, 100, 0xff, 0x100, 0xffff, 0x1_0000];
const arrayLengths = [0, 1, 4, 15, 16, 40, 0xffff, 0x1_0000];

/** An element the fast path takes. */
function flatElement(p: Prng): string | number | Uint8Array {
  switch (p.int(4)) {
    case 0:
      return randomAscii(p, 31);
    case 1:
      return p.chance(0.5) ? p.pick(msgpackBoundaryNumbers) : p.int(2 ** 32) - 2 ** 31;
    case 2: {
      const b = p.bytes(p.chance(0.8) ? p.int(120) : p.pick(byteLengths));
      return p.chance(0.3) ? Buffer.from(b) : b;
    }
    default:
      return p.int(128);
  }
}

/** An element it must leave to msgpackr. */
function otherElement(p: Prng): unknown {
  return p.pick([
    'a'.repeat(32),
    'é',
    '\u{1f600}',
    null,
    undefined,
    10n,
    new Map(),
    new Int8Array(3),
    new Uint16Array(2),
  ]);
}

function flatMap(p: Prng): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (let k = p.int(16); k > 0; k--) {
    const n = p.chance(0.95) ? p.int(60) : p.pick(arrayLengths);
    const items: unknown[] = [];
    // Long arrays repeat one small element: the sizes, not the contents, are what they test.
    const filler = p.pick([7, 'field0', new Uint8Array(3), 1.5, -300]);
    for (let i = 0; i < n; i++) items.push(n > 100 ? filler : flatElement(p));
    out[randomAscii(p, 31)] = items;
  }
  return out;
}

/** A nested value the fast path takes: objects and arrays (depth < 4) of elements and booleans. */
function nested(p: Prng, depth: number): unknown {
  if (depth >= 3 || p.chance(0.4)) return p.chance(0.15) ? p.chance(0.5) : flatElement(p);
  if (p.chance(0.5)) return Array.from({ length: p.int(18) }, () => nested(p, depth + 1));
  const out: Record<string, unknown> = {};
  for (let k = p.int(16); k > 0; k--) out[randomAscii(p, 31)] = nested(p, depth + 1);
  return out;
}

/** A scan reply: `{ scanner, rows: [{ row, cells }], done }`. */
function scanReply(p: Prng): Record<string, unknown> {
  const rows = Array.from({ length: p.int(120) }, () => ({
    row: p.bytes(p.between(1, 40)),
    cells: Array.from({ length: 4 * p.int(12) }, (_, i) =>
      i % 4 === 0
        ? 'f'
        : i % 4 === 1
          ? p.bytes(6)
          : i % 4 === 2
            ? 1_764_000_000_000_000 + i
            : p.bytes(100),
    ),
  }));
  return p.chance(0.5)
    ? { scanner: p.int(2 ** 31), rows, done: p.chance(0.5) }
    : { rows, done: false };
}

describe("flat-pack (the frame encoder's fast path for plain replies and requests)", () => {
  it('writes exactly the bytes msgpackr writes, and they decode back (many seeds)', () => {
    let taken = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const p = new Prng(seed);
      const value =
        seed % 3 === 0 ? flatMap(p) : seed % 3 === 1 ? scanReply(p) : { v: nested(p, 1) };
      const fast = packFlatMap(value);
      expect(fast, `seed ${seed}`).toBeDefined();
      expect(Buffer.from(fast!).equals(Buffer.from(encodeValue(value))), `seed ${seed}`).toBe(true);
      const back = decodeValue(fast!, 0, fast!.length) as Record<string, unknown>;
      expect(Object.keys(back)).toEqual(Object.keys(value));
      taken++;
    }
    expect(taken).toBe(400);
  });

  it('makes the same RESPONSE frames as a body encoded by msgpackr', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const p = new Prng(20_000 + seed);
      // Small (into the slab), large (a body of its own) and refused (msgpackr) replies.
      const value = p.chance(0.4)
        ? flatMap(p)
        : p.chance(0.6)
          ? scanReply(p)
          : { k: [otherElement(p)] };
      const enc = new FrameEncoder();
      enc.peerMaxFrameBytes = 1 << 30;
      enc.response(seed, value);
      const got = Buffer.concat(enc.take());
      const body = encodeValue(value);
      const want = Buffer.alloc(HEADER_BYTES + body.length);
      writeHeader(want, 0, HEADER_BYTES + body.length - 4, FrameKind.RESPONSE, seed);
      want.set(body, HEADER_BYTES);
      expect(got.equals(want), `seed ${seed}`).toBe(true);
    }
  });

  it('makes the same REQUEST frames as arguments encoded by msgpackr', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const p = new Prng(30_000 + seed);
      // Small (into the slab) and large or refused (msgpackr, as before) arguments.
      const args = p.chance(0.5)
        ? flatMap(p)
        : p.chance(0.5)
          ? scanReply(p)
          : { k: [otherElement(p)] };
      const enc = new FrameEncoder();
      enc.peerMaxFrameBytes = 1 << 30;
      enc.request(seed, 1500 + seed, 'table.mutate', args);
      const got = Buffer.concat(enc.take());
      const method = Buffer.from('table.mutate');
      const body = encodeValue(args);
      const head = HEADER_BYTES + REQUEST_HEAD_BYTES + method.length;
      const want = Buffer.alloc(head + body.length);
      writeHeader(want, 0, head + body.length - 4, FrameKind.REQUEST, seed);
      want.writeUInt32BE(1500 + seed, HEADER_BYTES);
      want[HEADER_BYTES + 4] = method.length;
      want.set(method, HEADER_BYTES + REQUEST_HEAD_BYTES);
      want.set(body, head);
      expect(got.equals(want), `seed ${seed}`).toBe(true);
    }
  });

  it('refuses a value over its limit', () => {
    for (const n of [0, 100, 300, 70_000]) {
      const value = { cells: ['f', new Uint8Array(n), 7] };
      const size = packedSize(value, 1 << 30);
      expect(size).toBe(encodeValue(value).length);
      expect(packedSize(value, size)).toBe(size);
      expect(packedSize(value, size - 1)).toBe(-1);
    }
  });

  it('leaves every other value to msgpackr', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const p = new Prng(10_000 + seed);
      const value: Record<string, unknown> = flatMap(p);
      switch (p.int(6)) {
        case 0: {
          const items: unknown[] = [...Array(p.int(5)).keys()].map(() => flatElement(p));
          items.splice(p.int(items.length + 1), 0, otherElement(p));
          value['k'] = items;
          break;
        }
        case 1:
          value['k'] = { a: { b: { c: { d: 1 } } } }; // nested deeper than it goes
          break;
        case 2:
          value[p.pick(['a'.repeat(32), 'ключ'])] = [];
          break;
        case 3:
          for (let i = 0; i < 16; i++) value[`k${i}`] = []; // 16 keys or more: no fixmap
          break;
        case 4:
          value['k'] = p.chance(0.5) ? new Map() : new (class extends Array<number> {})();
          break;
        default:
          value['k'] = null;
      }
      expect(packFlatMap(value), `seed ${seed}`).toBeUndefined();
    }
    for (const v of [undefined, null, 1, 'x', [1], new Uint8Array(1), Object.create(null)]) {
      expect(packFlatMap(v)).toBeUndefined();
    }
  });
});
