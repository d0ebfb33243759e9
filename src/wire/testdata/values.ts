/**
 * Test helpers shared by the wire tests: random msgpack-able values and random frames from a
 * seeded Prng, and a normal form for comparing what went in with what came out.
 * (Not part of the public face; imported only by *.test.ts.)
 */
import type { Prng } from '../../util/prng.js';
import { TesseraError } from '../../util/errors.js';
import type { Frame } from '../frame.js';
import { FrameKind } from '../format.js';

const KEYS = ['a', 'row', 'family', 'qualifier', 'ts', 'value', 'ключ', '列', 'x y', ''];
const METHODS = ['echo', 'get', 'put', 'scan', 'table.create', 'a', 'x'.repeat(255)];

export function randomString(rng: Prng, maxLength: number): string {
  const n = rng.int(maxLength + 1);
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = rng.int(10);
    s +=
      r < 7
        ? String.fromCharCode(0x20 + rng.int(95))
        : r < 9
          ? String.fromCharCode(0xa0 + rng.int(0x2000))
          : '😀';
  }
  return s;
}

/** A random value that survives a msgpack round trip unchanged (after `normalize`). */
export function randomValue(rng: Prng, depth = 0, bigBytes = false): unknown {
  const pick = rng.int(depth >= 3 ? 9 : 11);
  switch (pick) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.int(256) - 128;
    case 3:
      return rng.between(-0x7fff_ffff, 0x7fff_ffff);
    case 4:
      // Safe integers beyond 32 bits, e.g. microsecond timestamps.
      return (rng.chance(0.5) ? 1 : -1) * (rng.int(0x20_0000) * 0x1_0000_0000 + rng.uint32());
    case 5:
      return (rng.float() - 0.5) * 1e6;
    case 6:
      return randomString(rng, 40);
    case 7:
      return rng.bytes(bigBytes && rng.chance(0.3) ? rng.int(200_000) : rng.int(64));
    case 8:
      return BigInt.asIntN(64, (BigInt(rng.uint32()) << 32n) | BigInt(rng.uint32()));
    case 9: {
      const n = rng.int(6);
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(randomValue(rng, depth + 1, bigBytes));
      return out;
    }
    default: {
      const n = rng.int(6);
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) out[rng.pick(KEYS)] = randomValue(rng, depth + 1, bigBytes);
      return out;
    }
  }
}

/** Buffers become plain Uint8Arrays so values compare by content alone. */
export function normalize(v: unknown): unknown {
  if (v instanceof Uint8Array) return Uint8Array.from(v);
  if (Array.isArray(v)) return v.map(normalize);
  if (v instanceof TesseraError) return { code: v.code, message: v.message, details: v.details };
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = normalize(x);
    return out;
  }
  return v;
}

export function randomFrame(rng: Prng, bigBytes = false): Frame {
  const id = 1 + rng.int(0xffff_fffe);
  switch (rng.int(9)) {
    case 0:
      return {
        kind: rng.chance(0.5) ? FrameKind.HELLO : FrameKind.HELLO_ACK,
        requestId: 0,
        version: rng.int(0x1_0000),
        features: rng.int(0x1_0000),
        maxFrameBytes: rng.uint32(),
        ...(rng.chance(0.3) ? { extensions: { user: randomString(rng, 20) } } : {}),
      };
    case 1:
    case 2:
      return {
        kind: FrameKind.REQUEST,
        requestId: id,
        timeoutMs: rng.chance(0.3) ? 0 : rng.uint32(),
        method: rng.pick(METHODS),
        args: randomValue(rng, 0, bigBytes),
      };
    case 3:
    case 4:
      return { kind: FrameKind.RESPONSE, requestId: id, result: randomValue(rng, 0, bigBytes) };
    case 5:
      return {
        kind: FrameKind.ERROR,
        requestId: rng.chance(0.2) ? 0 : id,
        error: new TesseraError(
          rng.pick(['INTERNAL', 'OVERLOADED', 'UNKNOWN_METHOD', 'DEADLINE_EXCEEDED'] as const),
          randomString(rng, 60),
          rng.chance(0.5) ? { method: randomString(rng, 10), n: rng.int(100) } : undefined,
        ),
      };
    case 6:
      return { kind: FrameKind.CANCEL, requestId: id };
    case 7:
      return { kind: rng.chance(0.5) ? FrameKind.PING : FrameKind.PONG, requestId: id };
    default:
      return { kind: FrameKind.GOAWAY, requestId: 0 };
  }
}

/** Cuts `bytes` into chunks at random points (often tiny, sometimes large). */
export function splitRandomly(rng: Prng, bytes: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let off = 0;
  while (off < bytes.length) {
    const r = rng.int(4);
    const n =
      r === 0
        ? 1 + rng.int(3)
        : r === 1
          ? 1 + rng.int(20)
          : r === 2
            ? 1 + rng.int(500)
            : 1 + rng.int(70_000);
    chunks.push(bytes.subarray(off, Math.min(bytes.length, off + n)));
    off += n;
  }
  return chunks;
}
